import EqProp
import Foundation
import Yams

/// Runs a sweep into a folder: `plan.json` (the plan, checked on resume), `results.jsonl` (one
/// line per finished run, appended and flushed as it finishes), and `in-progress/` (the training
/// state of each run in flight, saved after every epoch). A crash or `kill -9` loses at most the
/// epoch each run in flight was in: a resume continues those runs from their last epoch, to the
/// numbers of an uninterrupted run; a torn last line is cut off when the file is reopened. Also
/// merges the folders of shards.
public enum SweepExecutor {
    /// File names in a sweep folder: the plan (JSON), and one `SweepRecord` per finished run (JSON lines).
    public static let planName = "plan.json", resultsName = "results.jsonl"
    /// The folder of a sweep folder that holds the runs in flight, one `RunInProgress` folder per run
    /// (named by its index in the plan), removed when the run's record is kept.
    public static let inProgressName = "in-progress"

    /// Where run `index` of the sweep in `outDir` keeps its state between epochs.
    static func inProgressDir(_ outDir: String, index: Int) -> String {
        ((outDir as NSString).appendingPathComponent(inProgressName) as NSString).appendingPathComponent("\(index)")
    }

    /// What `execute` did: runs of the plan (or shard), skipped, done, failed, and the wall time.
    public struct Summary: Sendable {
        /// Runs of the plan (or shard), runs skipped as already finished, and runs finished in this call.
        public var total: Int, skipped: Int, done: Int
        /// `key: error` of every run that failed (not recorded; a resume retries it).
        public var failed: [String]
        /// Wall time of the call (s).
        public var seconds: Double
        /// `key: reason` of every run that diverged (recorded with status `diverged`).
        public var diverged: [String] = []
    }

    /// Progress for the `status` callback: runs finished and to do in this call, running now, and the
    /// estimated time left (s).
    public struct Status: Sendable { public var done: Int, total: Int, running: Int, etaSeconds: Double }

    /// The plan as `plan.json` (sorted keys), with the shard `k/n` a folder holds when sharded.
    static func encodePlan(_ p: SweepPlan, shard: (Int, Int)? = nil) -> Data {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? enc.encode(p) else { return Data() }
        guard let (k, n) = shard, var dict = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return data
        }
        dict["shard"] = "\(k)/\(n)"
        return
            (try? JSONSerialization.data(
                withJSONObject: dict, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? data
    }

    /// The shard `k/n` recorded in a folder's `plan.json` (nil: the whole plan).
    static func recordedShard(_ dir: String) -> String? {
        let path = (dir as NSString).appendingPathComponent(planName)
        guard let data = try? InputFile.read(path, what: "sweep plan", maxBytes: 1 << 24),
            let dict = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return nil }
        return dict["shard"] as? String
    }

    /// The plan of a sweep folder (its `plan.json`).
    public static func loadPlan(_ dir: String) throws -> SweepPlan {
        let path = (dir as NSString).appendingPathComponent(planName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError("'\(dir)' holds no sweep (\(planName) missing)")
        }
        let data = try InputFile.read(path, what: "sweep plan", maxBytes: 1 << 24)
        do { return try JSONDecoder().decode(SweepPlan.self, from: data) } catch {
            throw InputError("\(path): not a valid sweep plan (\(error))")
        }
    }

    /// Finished records of a folder (lines that do not parse are skipped).
    public static func records(_ dir: String) -> [SweepRecord] {
        let path = (dir as NSString).appendingPathComponent(resultsName)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let dec = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? dec.decode(SweepRecord.self, from: Data($0.utf8)) }
    }

    /// A plan names presets; what they hold can change between a run and its resume (an edited
    /// preset, or a program with other presets or new fields). Every finished run must have been made
    /// with the model and device the plan resolves to now, or the sweep would mix configurations.
    static func checkConfigurations(_ done: [SweepRecord], of runs: [SweepPlan.Run], plan: SweepPlan, outDir: String)
        throws
    {
        let byKey = Dictionary(runs.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for rec in done {
            guard let run = byKey[rec.key] else { continue }
            let (spec, device) = try plan.resolve(run.assignments)
            if let field = differingField(rec.device, device) ?? differingField(rec.model, spec).map({ "model." + $0 })
            {
                throw InputError(
                    options:
                        "{resume}: run '\(rec.key)' in '\(outDir)' was made with another configuration than the plan "
                        + "gives now (\(field) differs): a preset or the program changed since it ran. Finish the "
                        + "sweep with the program and presets that started it, or start a new {out}"
                )
            }
        }
    }

    /// The first field (dotted path) in which two encodable values differ, nil if they are equal.
    static func differingField<T: Encodable>(_ a: T, _ b: T) -> String? {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        guard let da = try? enc.encode(a), let db = try? enc.encode(b) else { return "?" }
        if da == db { return nil }
        func walk(_ x: Any?, _ y: Any?, _ path: String) -> String? {
            if let dx = x as? [String: Any], let dy = y as? [String: Any] {
                // Fields before a preset's descriptive metadata (its name, source and lists).
                let meta: Set<String> = ["name", "source", "measured", "assumed"]
                for k in Set(dx.keys).union(dy.keys).sorted(by: {
                    (meta.contains($0) ? 1 : 0, $0) < (meta.contains($1) ? 1 : 0, $1)
                }) {
                    if let f = walk(dx[k], dy[k], path.isEmpty ? k : path + "." + k) { return f }
                }
                return nil
            }
            let sx = x.map { "\($0)" }, sy = y.map { "\($0)" }
            return sx == sy ? nil : (path.isEmpty ? "the value" : path)
        }
        return walk(try? JSONSerialization.jsonObject(with: da), try? JSONSerialization.jsonObject(with: db), "")
            ?? "a field"
    }

    /// Runs the plan's unfinished runs (of shard (k, n) if given) on `jobs` workers, one BLAS thread each,
    /// appending each record to `results.jsonl`; `resume` continues a folder that holds the same plan.
    public static func execute(
        plan: SweepPlan, outDir: String, resume: Bool, jobs: Int, shard: (Int, Int)? = nil,
        allowLarge: Bool = false, data preloaded: DataSet? = nil,
        status: ((Status) -> Void)? = nil
    ) throws -> Summary {
        guard !outDir.isEmpty else { throw InputError(options: "{out} must name a folder (got an empty path)") }
        guard (1...256).contains(jobs) else { throw InputError(options: "{jobs} must be in 1…256 (got \(jobs))") }
        try plan.validate(allowLarge: allowLarge)
        let data = try preloaded ?? DataSet.load(plan.dataset)
        let (base, _) = try plan.resolve([])
        guard base.layers.first == data.train.features, base.layers.last == data.train.classes else {
            throw InputError(
                "model '\(base.name)' (\(base.layers.map(String.init).joined(separator: "-"))) does not fit data set "
                    + "'\(data.name)' (\(data.train.features) features, \(data.train.classes) classes)"
            )
        }
        try check(plan, fits: data, base: base)
        // Nothing is written before here; then the folder is locked (one writer at a time).
        let folderLock = try FolderLock(outDir, purpose: "sweep")
        defer { folderLock.unlock() }
        let planPath = (outDir as NSString).appendingPathComponent(planName)
        if FileManager.default.fileExists(atPath: planPath) {
            guard resume else {
                throw InputError(
                    options: "'\(outDir)' already holds a sweep; add {resume} to continue it, or choose another {out}")
            }
            let old = try loadPlan(outDir)
            guard old == plan else {
                throw InputError(
                    options:
                        "{resume}: the sweep in '\(outDir)' has a different plan (\(planPath)); use the same options "
                        + "or another {out}"
                )
            }
            let had = recordedShard(outDir), now = shard.map { "\($0.0)/\($0.1)" }
            guard had == now else {
                throw InputError(
                    options:
                        "{resume}: '\(outDir)' holds \(had.map { "shard " + $0 } ?? "the whole sweep"), not "
                        + "\(now.map { "shard " + $0 } ?? "the whole sweep"); give the same {shard} (on SLURM: the "
                        + "same SHARDS)"
                )
            }
        } else {
            try AtomicFile.write(String(decoding: encodePlan(plan, shard: shard), as: UTF8.self) + "\n", to: planPath)
        }
        let writer = try JSONLWriter(path: (outDir as NSString).appendingPathComponent(resultsName))
        let recorded = records(outDir)
        let finished = Set(recorded.map(\.key))
        var all = plan.runs()
        if let (k, n) = shard { all = SweepPlan.shard(all, k: k, of: n) }
        try checkConfigurations(recorded, of: all, plan: plan, outDir: outDir)
        let todo = all.filter { !finished.contains($0.key) }
        // State left by runs that finished after it was saved (a crash between the two) is stale.
        for run in all where finished.contains(run.key) {
            try? FileManager.default.removeItem(atPath: inProgressDir(outDir, index: run.index))
        }
        // One BLAS thread per run: results must not depend on --jobs (OpenBLAS sums differ by thread count).
        let blasBefore = BLASThreads.count
        BLASThreads.set(1)
        defer { BLASThreads.set(blasBefore) }
        let lock = NSLock()
        nonisolated(unsafe) var next = 0, done = 0, running = 0
        nonisolated(unsafe) var failed: [String] = [], diverged: [String] = []
        nonisolated(unsafe) var runSeconds: [Double] = []
        nonisolated(unsafe) var firstError: Error? = nil
        let t0 = Date()
        let workers = min(jobs, max(todo.count, 1))
        func report() {
            let mean = runSeconds.isEmpty ? 0 : runSeconds.reduce(0, +) / Double(runSeconds.count)
            let eta = mean * Double(todo.count - done) / Double(workers)
            status?(Status(done: done, total: todo.count, running: running, etaSeconds: eta))
        }
        // Reported when a worker takes a run or stops: after a run finishes, its worker takes the next,
        // so each report counts the runs in flight (a log that prints one line per finished run shows
        // them, not the instant between two runs).
        _ = parallelMap(workers) { _ in
            while true {
                lock.lock()
                if next >= todo.count || firstError != nil { report(); lock.unlock(); return }
                let run = todo[next]; next += 1; running += 1
                report()
                lock.unlock()
                let saved = inProgressDir(outDir, index: run.index)
                let result = Result { try SweepRunner.run(run, plan: plan, data: data, inProgress: saved) }
                lock.lock()
                running -= 1
                switch result {
                case .success(let rec):
                    do {
                        try writer.append(rec); done += 1; runSeconds.append(rec.seconds)
                        try? FileManager.default.removeItem(atPath: saved)
                    } catch {
                        firstError = error
                    }
                    if rec.status == .diverged { diverged.append("\(run.key): \(rec.reason ?? "non-finite")") }
                case .failure(let e):
                    failed.append("\(run.key): \(e)")
                    done += 1
                }
                lock.unlock()
            }
        }
        let inProgressRoot = (outDir as NSString).appendingPathComponent(inProgressName)
        if (try? FileManager.default.contentsOfDirectory(atPath: inProgressRoot))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: inProgressRoot)
        }
        if let e = firstError { throw e }
        return Summary(
            total: all.count, skipped: all.count - todo.count, done: todo.count - failed.count, failed: failed,
            seconds: Date().timeIntervalSince(t0), diverged: diverged)
    }

    /// Two copies of a run agree: every metric equal, but energy and latency per sample (float sums,
    /// summed in another order when a copy was resumed from its saved state) equal to relative 1e-12.
    static func sameMetrics(_ a: [String: Double], _ b: [String: Double]) -> Bool {
        guard Set(a.keys) == Set(b.keys) else { return false }
        return a.allSatisfy { k, x in
            let y = b[k]!
            if x == y || (x.isNaN && y.isNaN) { return true }
            return k.hasSuffix("_per_sample") && abs(x - y) <= 1e-12 * max(abs(x), abs(y))
        }
    }

    /// Subsets and fidelity batches must fit the data set: a run would otherwise fail after the
    /// sweep started, or measure fewer batches than the plan records.
    static func check(_ plan: SweepPlan, fits data: DataSet, base: NetworkSpec) throws {
        if let n = plan.trainSubset, n > data.train.count {
            throw InputError(
                options: "{train_subset} \(n) is more than the \(data.train.count) training examples of '\(data.name)'")
        }
        if let n = plan.testSubset, n > data.test.count {
            throw InputError(
                options: "{test_subset} \(n) is more than the \(data.test.count) test examples of '\(data.name)'")
        }
        guard plan.measure != .accuracy else { return }
        let tests = plan.testSubset ?? data.test.count
        // Batch sizes of the plan: the base one, or every point's when the sweep varies it.
        let varies = (plan.vary.map(\.field) + plan.ranges.map(\.field)).contains("model.batch_size")
        let sizes =
            varies
            ? Set(try plan.runs().filter { $0.seed == 1 }.map { try plan.resolve($0.assignments).0.batchSize })
            : [base.batchSize]
        for bs in sizes.sorted() {
            let available = (tests + bs - 1) / bs
            if plan.fidelityBatches > available {
                throw InputError(
                    options:
                        "{fidelity_batches} \(plan.fidelityBatches) needs \(plan.fidelityBatches * bs) test examples "
                        + "at batch size \(bs); the sweep has \(tests) ({test_subset}): at most \(available) batches"
                )
            }
        }
    }

    // MARK: Merge

    /// What `merge` found: runs of the plan, runs present, and the keys of missing and duplicated runs.
    public struct MergeReport: Sendable {
        /// Runs of the plan, and distinct runs found in the folders.
        public var runs: Int, present: Int
        /// Keys of the plan's runs found in no folder.
        public var missing: [String]
        /// Keys of runs found more than once (the first copy is kept).
        public var duplicates: [String]
        /// Duplicated runs whose metrics differ between copies.
        public var conflicts: [String]
    }

    /// Name of the file a merge writes beside the plan: the folders it merged.
    public static let mergeName = "merge.json"

    /// Merges shard folders (same plan) into `outDir`; reports missing and duplicated runs.
    /// `outDir` must be new, empty, or an earlier merge of the same plan, and none of the shards
    /// (also through a symbolic link); it is locked while written.
    public static func merge(_ dirs: [String], into outDir: String) throws -> MergeReport {
        guard !dirs.isEmpty else { throw InputError("sweep merge: give at least one sweep folder") }
        let plan = try loadPlan(dirs[0])
        for d in dirs.dropFirst() {
            if try loadPlan(d) == plan { continue }
            throw InputError("sweep merge: '\(d)' holds a different sweep than '\(dirs[0])' (their \(planName) differ)")
        }
        func real(_ p: String) -> String {
            guard let r = realpath(p, nil) else { return (p as NSString).standardizingPath }
            defer { free(r) }
            return String(cString: r)
        }
        if let shard = dirs.first(where: { real($0) == real(outDir) }) {
            throw InputError(
                options: "sweep merge: {out} '\(outDir)' is one of the folders merged ('\(shard)'); give a new folder")
        }
        let lock = try FolderLock(outDir, purpose: "merge")
        defer { lock.unlock() }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: outDir)) ?? []).filter {
            $0 != FolderLock.fileName
        }
        if !entries.isEmpty {
            let isMerge = FileManager.default.fileExists(atPath: (outDir as NSString).appendingPathComponent(mergeName))
            guard isMerge, (try? loadPlan(outDir)) == plan else {
                throw InputError(
                    options:
                        "sweep merge: {out} '\(outDir)' is not empty and is not a merge of this sweep; give a new "
                        + "folder"
                )
            }
        }
        var byKey: [String: SweepRecord] = [:]
        var dups: [String] = [], conflicts: [String] = []
        for d in dirs {
            for r in records(d) {
                if let old = byKey[r.key] {
                    dups.append(r.key)
                    if !sameMetrics(old.metrics, r.metrics) { conflicts.append(r.key) }
                } else {
                    byKey[r.key] = r
                }
            }
        }
        let runs = plan.runs()
        let missing = runs.map(\.key).filter { byKey[$0] == nil }
        try AtomicFile.write(
            String(decoding: encodePlan(plan), as: UTF8.self) + "\n",
            to: (outDir as NSString).appendingPathComponent(planName))
        try writeJSON(["merged": dirs], to: (outDir as NSString).appendingPathComponent(mergeName))
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let lines = byKey.values.sorted { $0.index < $1.index }.compactMap { try? enc.encode($0) }.map {
            String(decoding: $0, as: UTF8.self) + "\n"
        }
        try AtomicFile.write(lines.joined(), to: (outDir as NSString).appendingPathComponent(resultsName))
        return MergeReport(
            runs: runs.count, present: byKey.count, missing: missing, duplicates: dups, conflicts: conflicts)
    }
}
