import ArgumentParser
import EqProp
import EqPropRuns

/// `xbar table DIR`: the Table 1 analogue from the runs of scripts/reproduce-table1.
struct Table: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize DIR/<model>/<ep|bptt>/seed<k>/ training runs as a Table 1 (DIR/results.md, results.csv).")
    @Argument(help: "Folder written by scripts/reproduce-table1.")
    var dir: String
    func run() throws { print(try Table1.write(dir), terminator: "") }
}
