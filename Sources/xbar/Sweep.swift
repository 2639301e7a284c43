import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

/// `xbar sweep`: device- and training-parameter sweeps (run, merge shards, report).
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sweep device or training parameters: resumable, parallel, shardable; merge shards; plot.",
        subcommands: [SweepRun.self, SweepMerge.self, SweepReport.self], defaultSubcommand: SweepRun.self)
}

struct SweepRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep (the default: `xbar sweep --vary …` is `xbar sweep run --vary …`).",
        discussion: """
            Fields are dotted: device.FIELD (any device preset field) or model.FIELD (any network field: \
            beta, T, K, learning_rates, epochs, nudging, …); `device` and `model` alone vary the preset \
            (e.g. --vary device=epiram,gst-pcm). The points are the Cartesian product of the \
            --vary lists, crossed with --random N draws from the --range boxes; each point runs with seeds \
            1…--seeds. Everything is checked before anything runs. DIR/results.jsonl gets one line per \
            finished run (full configuration, metrics, timing), appended and flushed as it finishes; \
            runs in flight save their state after every epoch (DIR/in-progress/); --resume skips finished \
            runs and continues those in flight. Example: xbar sweep --model p-1h --device epiram \
            --vary device.levels=16,64,256 --vary device.flicker_k=0,1e-5,1e-4 --seeds 2 --epochs 1 \
            --train-subset 5000 --out runs/sweep1
            """)

    @Option(help: "Sweep file (YAML, see Models/sweeps/); the options below override its fields.")
    var file: String?
    @Option(help: "Network preset (name or YAML path). (default: p-1h)")
    var model: String?
    @Option(help: "Device preset (name or YAML path); without it, software weights.")
    var device: String?
    @Option(
        help: ArgumentHelp(
            "A grid axis: FIELD=v1,v2,… (repeatable). List values in brackets: "
                + "model.learning_rates=[0.1,0.05],[0.2,0.1]."
        ))
    var vary: [String] = []
    @Option(help: "A fixed override for every point: FIELD=VALUE (repeatable).")
    var set: [String] = []
    @Option(help: "Number of random points drawn from the --range boxes (crossed with the grid).")
    var random: Int?
    @Option(help: "A random axis: FIELD=lo:hi or FIELD=lo:hi:log (repeatable; needs --random).")
    var range: [String] = []
    @Option(help: "Seeds per point (1…N). (default: 1)")
    var seeds: Int?
    @Option(help: "fidelity | accuracy | both. (default: both)")
    var measure: String?
    @Option(help: "Epochs of training per run (same as --set model.epochs=E).")
    var epochs: Int?
    @Option(help: "fashion-mnist, mnist, synthetic, or a folder with the four IDX files. (default: fashion-mnist)")
    var dataset: String?
    @Option(help: "Train on N examples of a seeded subset.")
    var trainSubset: Int?
    @Option(help: "Evaluate (and probe fidelity) on the first N test examples.")
    var testSubset: Int?
    @Option(help: "Batches of the fidelity probe. (default: 10)")
    var fidelityBatches: Int?
    @Option(help: "Seed of the --random draws. (default: 1)")
    var drawSeed: UInt64?
    @Option(help: "Output folder.")
    var out: String
    @Flag(help: "Continue the sweep in --out: skip finished runs, continue interrupted ones (same plan).")
    var resume = false
    @Option(help: "Runs in parallel on this machine, 1…256 (default: the number of cores).")
    var jobs: Int?
    @Option(help: "Run only shard k of N (k/N, 1-based): every N-th run, for cluster job arrays.")
    var shard: String?
    @Flag(help: "Allow a sweep of more than 10,000 runs (up to 1,000,000).")
    var allowLarge = false
    @Flag(help: "No progress line.")
    var quiet = false

    func plan() throws -> SweepPlan {
        var p = try file.map { try SweepPlan.load(file: $0) } ?? SweepPlan()
        if let v = model { p.model = v }
        if let v = device { p.device = v }
        var given = Set<String>()
        for text in vary {
            let a = try SweepPlan.parseAxis(text)
            // A --vary replaces the sweep file's axis of the same field; two on the command line are a mistake.
            guard given.insert(a.field).inserted else { throw InputError("--vary \(a.field) is given more than once") }
            if let i = p.vary.firstIndex(where: { $0.field == a.field }) { p.vary[i] = a } else { p.vary.append(a) }
        }
        var fixed = try set.map { try SweepPlan.parseAxis($0, option: "set") }
        fixed += DeviceOverrides.pairs.map { SweepPlan.Axis(field: "device." + $0.0, values: [$0.1]) }
        if let e = epochs { fixed.append(SweepPlan.Axis(field: "model.epochs", values: [String(e)])) }
        for a in fixed {
            guard a.values.count == 1 else {
                throw InputError("--set \(a.field): give exactly one value (got \(a.values.count))")
            }
            if let i = p.set.firstIndex(where: { $0.field == a.field }) { p.set[i] = a } else { p.set.append(a) }
        }
        if let v = random { p.random = v }
        if !range.isEmpty { p.ranges = try range.map(SweepPlan.parseRange) }
        if let v = seeds { p.seeds = v }
        if let v = measure {
            guard let m = SweepPlan.Measure(rawValue: v) else {
                throw InputError("--measure must be fidelity, accuracy or both (got '\(v)')")
            }
            p.measure = m
        }
        if let v = dataset { p.dataset = v }
        if let v = trainSubset { p.trainSubset = v }
        if let v = testSubset { p.testSubset = v }
        if let v = fidelityBatches { p.fidelityBatches = v }
        if let v = drawSeed { p.drawSeed = v }
        if p.vary.isEmpty && p.random == 0 {
            throw InputError("nothing to sweep: give --vary FIELD=v1,v2,… or --random N with --range FIELD=lo:hi")
        }
        return p
    }

    func run() throws {
        let p = try plan()
        let sh = try shard.map(SweepPlan.parseShard)
        let jobs = self.jobs ?? ProcessInfo.processInfo.activeProcessorCount
        guard (1...256).contains(jobs) else { throw InputError("--jobs must be in 1…256 (got \(jobs))") }
        try p.validate(allowLarge: allowLarge)  // before the header line: bad input gets exactly one line
        let runs = p.runs().count
        if !quiet {
            FileHandle.standardError.write(
                Data(
                    ("xbar sweep: \(runs) runs (\(runs / p.seeds) points × \(p.seeds) "
                        + "seeds)\(sh.map { ", shard \($0.0)/\($0.1)" } ?? ""), \(jobs) at a time → "
                        + "\(out)/results.jsonl\n")
                        .utf8))
        }
        let summary = try SweepExecutor.execute(
            plan: p, outDir: out, resume: resume, jobs: jobs, shard: sh, allowLarge: allowLarge,
            status: quiet
                ? nil
                : { s in
                    Status.progress(
                        String(
                            format: "sweep: %d/%d runs done, %d running, ETA %@", s.done, s.total, s.running,
                            Status.clock(s.etaSeconds)), step: s.done)
                })
        if !quiet {
            Status.line(
                "sweep: \(summary.done) runs finished, \(summary.skipped) already done, in "
                    + "\(Status.clock(summary.seconds)); plots: xbar sweep report \(out)",
                final: true)
        }
        for d in summary.diverged {
            FileHandle.standardError.write(Data("diverged (recorded, status \"diverged\"): \(d)\n".utf8))
        }
        if !summary.failed.isEmpty {
            for f in summary.failed { FileHandle.standardError.write(Data("failed: \(f)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}

struct SweepMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract:
            "Merge the folders of a sharded sweep; report missing and duplicated runs (exit 3 if any run is missing).")
    @Argument(help: "Shard folders of one sweep.")
    var dirs: [String]
    @Option(help: "Folder for the merged plan.json and results.jsonl.")
    var out: String

    func run() throws {
        let r = try SweepExecutor.merge(dirs, into: out)
        print("merged \(r.present) of \(r.runs) runs into \(out)/results.jsonl")
        if !r.duplicates.isEmpty {
            print(
                "duplicated: \(r.duplicates.count) runs (kept the first copy)"
                    + (r.conflicts.isEmpty
                        ? "" : "; \(r.conflicts.count) with differing metrics, e.g. \(r.conflicts[0])")
            )
        }
        if !r.missing.isEmpty {
            FileHandle.standardError.write(
                Data(
                    ("error: missing \(r.missing.count) of \(r.runs) runs (a shard did not finish?), e.g. "
                        + "\(r.missing.prefix(3).joined(separator: "; "))\n")
                        .utf8))
            throw ExitCode(3)
        }
    }
}

struct SweepReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write DIR/report.csv (mean ± std over seeds per point) and DIR/report.svg (line plot for one varied "
            + "field, heatmap for two)."
    )
    @Argument(help: "Sweep folder.")
    var dir: String
    @Option(help: "Metrics to plot, comma-separated (default: test_error, cosine, sign_agreement when present).")
    var metric: String?

    func run() throws {
        let wanted = metric.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        for f in try SweepExecutor.report(dir, metrics: wanted) { print("wrote \(f)") }
        let (dups, unreadable) = SweepExecutor.anomalies(dir)
        if !dups.isEmpty {
            FileHandle.standardError.write(
                Data(
                    ("warning: \(dups.count) runs are recorded more than once (the first copy is reported), e.g. "
                        + "\(dups[0]); join shards with xbar sweep merge\n")
                        .utf8))
        }
        if unreadable > 0 {
            FileHandle.standardError.write(
                Data("warning: \(unreadable) lines of results.jsonl are not records and were skipped\n".utf8))
        }
    }
}
