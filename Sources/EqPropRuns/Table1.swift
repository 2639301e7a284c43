import EqProp
import Foundation

/// The Table 1 analogue: one row per (model, algorithm) from the training folders of
/// `scripts/reproduce-table1` (DIR/<model>/<algorithm>/seed<k>/), mean ± std over trials.
public enum Table1 {
    /// One (model, algorithm) row: trials, errors and wall time, with T, K and β of the runs.
    public struct Row: Sendable {
        /// Model folder name, and algorithm (`EP` or `BPTT`).
        public var model: String, algorithm: String
        /// Seeds with a logged epoch, and the fewest epochs any of them logged.
        public var trials: Int, epochs: Int
        /// Last test error, mean and sample std over trials, and last train error, mean (%).
        public var testMean: Double, testStd: Double, trainMean: Double
        /// Mean wall time per run (hours).
        public var hoursPerRun: Double
        /// T, K and β from the first readable checkpoint (0 when there is none).
        public var T: Int, K: Int, beta: Double
        /// Training examples: `N (subset)`, or `all`.
        public var trainExamples: String
    }

    /// Reads the rows from DIR/<model>/<ep|bptt>/seed<k>/log.jsonl and the checkpoints beside them.
    public static func rows(_ dir: String) throws -> [Row] {
        let fm = FileManager.default
        guard let models = try? fm.contentsOfDirectory(atPath: dir).sorted() else {
            throw InputError("table: folder '\(dir)' not found")
        }
        var out: [Row] = []
        for model in models {
            for alg in ["ep", "bptt"] {
                let base = "\(dir)/\(model)/\(alg)"
                guard let seeds = try? fm.contentsOfDirectory(atPath: base).filter({ $0.hasPrefix("seed") }).sorted(),
                    !seeds.isEmpty
                else { continue }
                var tests: [Double] = [], trains: [Double] = [], secs: [Double] = [], epochs: [Int] = []
                var ck: TrainingRun.Checkpoint? = nil
                for s in seeds {
                    // epoch lines, not probe lines
                    let lines = JSONLWriter.readLines("\(base)/\(s)/log.jsonl").filter { $0["test_error"] != nil }
                    guard let last = lines.last, let te = last["test_error"] as? Double,
                        let tr = last["train_error"] as? Double
                    else { continue }
                    tests.append(te); trains.append(tr); epochs.append(lines.count)
                    secs.append(lines.compactMap { $0["seconds"] as? Double }.reduce(0, +))
                    if ck == nil { ck = try? TrainingRun.loadCheckpoint("\(base)/\(s)/\(TrainingRun.checkpointName)") }
                }
                guard !tests.isEmpty else { continue }
                let mu = tests.reduce(0, +) / Double(tests.count)
                let sd =
                    tests.count > 1
                    ? (tests.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(tests.count - 1)).squareRoot() : 0
                out.append(
                    Row(
                        model: model, algorithm: alg.uppercased(), trials: tests.count, epochs: epochs.min() ?? 0,
                        testMean: mu, testStd: sd, trainMean: trains.reduce(0, +) / Double(trains.count),
                        hoursPerRun: secs.reduce(0, +) / Double(secs.count) / 3600,
                        T: ck?.spec.T ?? 0, K: ck?.spec.K ?? 0, beta: ck?.spec.beta ?? 0,
                        trainExamples: ck?.options.trainSubset.map { "\($0) (subset)" } ?? "all"))
            }
        }
        if out.isEmpty {
            throw InputError(
                "table: no finished runs under '\(dir)' (expected DIR/<model>/<ep|bptt>/seed<k>/log.jsonl)")
        }
        return out
    }

    /// The test error cell: "mean ± std" over several trials; the bare value for one trial, whose
    /// spread is unknown (a "± 0.00" would claim a measured spread of zero).
    public static func testErrorCell(mean: Double, std: Double, trials: Int) -> String {
        trials > 1 ? String(format: "%.2f ± %.2f", mean, std) : String(format: "%.2f", mean)
    }

    /// The wall time cell: "h:mm h" from one minute on (rounded to the minute, so 59.7 min is "1:00 h"),
    /// whole seconds below it, so that short runs do not read as "0:00 h".
    public static func wallTimeCell(hours: Double) -> String {
        let seconds = hours * 3600
        if seconds < 59.5 { return String(format: "%.0f s", seconds) }
        let minutes = Int((seconds / 60).rounded())
        return String(format: "%d:%02d h", minutes / 60, minutes % 60)
    }

    /// Writes DIR/results.md and DIR/results.csv; returns the Markdown.
    @discardableResult
    public static func write(_ dir: String) throws -> String {
        let rows = try rows(dir)
        var md =
            "| model | algorithm | T | K | β | train examples | epochs | trials | test error % (mean ± std if trials > 1) | final "
            + "train error % | wall time per run |\n"
        md += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        var csv =
            "model,algorithm,T,K,beta,train_examples,epochs,trials,"
            + "test_error_mean,test_error_std,train_error_mean,hours_per_run\n"
        for r in rows {
            md +=
                "| \(r.model) | \(r.algorithm) | \(r.T) | \(r.K) | \(r.beta) | \(r.trainExamples) | \(r.epochs) | "
                + "\(r.trials) | \(testErrorCell(mean: r.testMean, std: r.testStd, trials: r.trials)) | "
                + String(format: "%.2f", r.trainMean) + " | \(wallTimeCell(hours: r.hoursPerRun)) |\n"
            csv +=
                "\(r.model),\(r.algorithm),\(r.T),\(r.K),\(r.beta),"
                + "\(r.trainExamples.replacingOccurrences(of: " (subset)", with: "")),\(r.epochs),\(r.trials),"
                + String(format: "%.4f,%.4f,%.4f,%.4f\n", r.testMean, r.testStd, r.trainMean, r.hoursPerRun)
        }
        try AtomicFile.write(md, to: "\(dir)/results.md")
        try AtomicFile.write(csv, to: "\(dir)/results.csv")
        return md
    }
}
