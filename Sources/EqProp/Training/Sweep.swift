import Foundation
import Yams

/// A device- or training-parameter sweep: which fields vary over which values, how many seeds, what
/// to measure. Every run (point × seed) is independent and deterministic, so runs can be done in any
/// order, concurrently, on different machines (shards), and resumed after a crash.
///
/// Field names are dotted: `device.FIELD` for any field of a device preset, `model.FIELD` for any
/// field of a network preset (β, T, K, learning rates, nudging, epochs, …). Values are YAML scalars
/// or flow lists (`[0.1, 0.05]`), exactly as in the preset files.
public struct SweepPlan: Codable, Equatable, Sendable {
    public enum Measure: String, Codable, Sendable, CaseIterable { case fidelity, accuracy, both }

    public struct Axis: Codable, Equatable, Sendable {
        public var field: String
        public var values: [String]
        public init(field: String, values: [String]) { self.field = field; self.values = values }
    }

    public struct Range: Codable, Equatable, Sendable {
        public var field: String
        public var lo: Double, hi: Double
        public var log: Bool
        public init(field: String, lo: Double, hi: Double, log: Bool) { self.field = field; self.lo = lo; self.hi = hi; self.log = log }
    }

    public var model: String = "p-1h"
    /// Device preset (name or path); nil trains software weights.
    public var device: String?
    /// Fixed overrides applied to every point (same syntax as `vary`, one value each).
    public var set: [Axis] = []
    /// Grid axes: the points are their Cartesian product (first axis slowest).
    public var vary: [Axis] = []
    /// Random points drawn uniformly (or log-uniformly) from `ranges`, crossed with the grid.
    public var random: Int = 0
    public var ranges: [Range] = []
    /// Seeds 1…seeds per point.
    public var seeds: Int = 1
    public var measure: Measure = .both
    public var dataset: String = "fashion-mnist"
    public var trainSubset: Int?
    public var testSubset: Int?
    /// Fidelity probe: batches of the test set after training (or on the initial weights).
    public var fidelityBatches: Int = 10
    /// Seed of the random point draws (`--random`).
    public var drawSeed: UInt64 = 1

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, device, set, vary, random, ranges = "range", seeds, measure, dataset
        case trainSubset = "train_subset", testSubset = "test_subset", fidelityBatches = "fidelity_batches", drawSeed = "draw_seed"
    }

    public init() {}

    // MARK: Parsing

    /// `FIELD=v1,v2,…` (commas inside [ ] belong to a list value).
    public static func parseAxis(_ text: String, option: String = "--vary") throws -> Axis {
        guard let eq = text.firstIndex(of: "=") else {
            throw InputError("\(option) '\(text)': expected FIELD=v1,v2,… (e.g. device.levels=16,64,256)")
        }
        let field = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let body = String(text[text.index(after: eq)...])
        var values: [String] = [], cur = "", depth = 0
        for ch in body {
            if ch == "[" { depth += 1 } else if ch == "]" { depth -= 1 }
            if ch == "," && depth == 0 { values.append(cur); cur = "" } else { cur.append(ch) }
        }
        values.append(cur)
        values = values.map { $0.trimmingCharacters(in: .whitespaces) }
        if field.isEmpty { throw InputError("\(option) '\(text)': missing field name before '='") }
        if values.contains(where: \.isEmpty) { throw InputError("\(option) \(field): empty value in '\(body)' (give a comma-separated list of values)") }
        return Axis(field: field, values: values)
    }

    /// `FIELD=lo:hi` or `FIELD=lo:hi:log`.
    public static func parseRange(_ text: String) throws -> Range {
        let usage = "expected FIELD=lo:hi or FIELD=lo:hi:log with numbers lo < hi (e.g. device.c2c=0.001:0.1:log)"
        guard let eq = text.firstIndex(of: "=") else { throw InputError("--range '\(text)': \(usage)") }
        let field = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let parts = text[text.index(after: eq)...].split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard !field.isEmpty, parts.count == 2 || (parts.count == 3 && (parts[2] == "log" || parts[2] == "lin")),
              let lo = Double(parts[0]), let hi = Double(parts[1]), lo.isFinite, hi.isFinite, lo < hi else {
            throw InputError("--range '\(text)': \(usage)")
        }
        let log = parts.count == 3 && parts[2] == "log"
        if log && lo <= 0 { throw InputError("--range '\(text)': a log range needs lo > 0") }
        return Range(field: field, lo: lo, hi: hi, log: log)
    }

    /// A sweep file (YAML; a path or a name in Models/sweeps): the fields of `CodingKeys`; `vary` and `set` map FIELD → list or value,
    /// `range` maps FIELD → "lo:hi[:log]".
    public static func load(file nameOrPath: String) throws -> SweepPlan {
        let path = try PresetLocator.resolve(nameOrPath, kind: "sweeps").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw InputError("sweep file '\(path)' is unreadable") }
        let source = (path as NSString).lastPathComponent
        let dict = try PresetYAML.mapping(text, source: source, known: Set(CodingKeys.allCases.map(\.rawValue)))
        var p = SweepPlan()
        func str(_ k: String) throws -> String? {
            guard let v = dict[k] else { return nil }
            if let s = v as? String { return s }
            throw InputError("\(source): field '\(k)' must be text")
        }
        func int(_ k: String, min m: Int) throws -> Int? {
            guard let v = dict[k] else { return nil }
            guard let i = v as? Int, i >= m else { throw InputError("\(source): field '\(k)' must be an integer ≥ \(m)") }
            return i
        }
        func scalarText(_ v: Any) -> String {
            if let a = v as? [Any] { return "[" + a.map(scalarText).joined(separator: ", ") + "]" }
            return "\(v)"
        }
        if let v = try str("model") { p.model = v }
        if let v = try str("device") { p.device = v }
        if let v = try str("dataset") { p.dataset = v }
        if let v = try str("measure") {
            guard let m = Measure(rawValue: v) else { throw InputError("\(source): field 'measure' must be fidelity, accuracy or both (got '\(v)')") }
            p.measure = m
        }
        if let v = try int("seeds", min: 1) { p.seeds = v }
        if let v = try int("random", min: 0) { p.random = v }
        p.trainSubset = try int("train_subset", min: 1)
        p.testSubset = try int("test_subset", min: 1)
        if let v = try int("fidelity_batches", min: 1) { p.fidelityBatches = v }
        if let v = try int("draw_seed", min: 0) { p.drawSeed = UInt64(v) }
        for key in ["vary", "set"] {
            guard let v = dict[key] else { continue }
            guard let m = v as? [String: Any] else { throw InputError("\(source): field '\(key)' must map FIELD → values") }
            var axes: [Axis] = []
            // Keep the file's order (Yams mappings are unordered dictionaries: re-read the order from the text).
            for field in orderedKeys(of: key, in: text, fallback: m.keys.sorted()) {
                guard let raw = m[field] else { continue }
                let values: [String]
                if key == "vary" {
                    guard let list = raw as? [Any] else { throw InputError("\(source): vary.\(field) must be a list of values") }
                    values = list.map(scalarText)
                } else {
                    values = [scalarText(raw)]
                }
                if values.isEmpty { throw InputError("\(source): vary.\(field) is an empty list") }
                axes.append(Axis(field: field, values: values))
            }
            if key == "vary" { p.vary = axes } else { p.set = axes }
        }
        if let v = dict["range"] {
            guard let m = v as? [String: Any] else { throw InputError("\(source): field 'range' must map FIELD → \"lo:hi[:log]\"") }
            for field in orderedKeys(of: "range", in: text, fallback: m.keys.sorted()) {
                guard let r = m[field] else { continue }
                p.ranges.append(try parseRange("\(field)=\(r)"))
            }
        }
        return p
    }

    /// Keys of a nested mapping in the order they appear in the file.
    static func orderedKeys(of section: String, in text: String, fallback: [String]) -> [String] {
        var inSection = false, keys: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let l = String(line)
            if l.hasPrefix("\(section):") { inSection = true; continue }
            if inSection {
                if let first = l.first, first != " " && first != "\t" && first != "#" { break }
                let t = l.trimmingCharacters(in: .whitespaces)
                if t.isEmpty || t.hasPrefix("#") { continue }
                if let colon = t.firstIndex(of: ":") { keys.append(String(t[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))) }
            }
        }
        return keys.count == fallback.count && Set(keys) == Set(fallback) ? keys : fallback
    }

    // MARK: Points

    /// One (point, seed): its field assignments in plan order and a stable key.
    public struct Run: Sendable, Equatable {
        public var index: Int
        public var assignments: [(field: String, value: String)]
        public var seed: Int
        public var key: String {
            assignments.map { "\($0.field)=\($0.value)" }.joined(separator: ",") + "#seed=\(seed)"
        }
        public var pointKey: String { assignments.map { "\($0.field)=\($0.value)" }.joined(separator: ",") }
        public static func == (a: Run, b: Run) -> Bool { a.key == b.key && a.index == b.index }
    }

    /// Grid points × random draws × seeds, in a fixed order (run index = position).
    public func runs() -> [Run] {
        var points: [[(field: String, value: String)]] = [[]]
        for axis in vary {
            points = points.flatMap { p in axis.values.map { p + [(axis.field, $0)] } }
        }
        if random > 0 && !ranges.isEmpty {
            var rng = RandomStream(seed: drawSeed, stream: "sweep/random")
            let draws: [[(field: String, value: String)]] = (0..<random).map { _ in
                ranges.map { r in
                    let u = rng.uniform()
                    let v = r.log ? Foundation.exp(Foundation.log(r.lo) + u * (Foundation.log(r.hi) - Foundation.log(r.lo))) : r.lo + u * (r.hi - r.lo)
                    return (r.field, String(format: "%.6g", v))
                }
            }
            points = points.flatMap { p in draws.map { p + $0 } }
        }
        var out: [Run] = []
        for p in points { for s in 1...max(seeds, 1) { out.append(Run(index: out.count, assignments: p, seed: s)) } }
        return out
    }

    /// The runs of shard k (1-based) of n: every n-th run starting at k − 1.
    public static func shard(_ runs: [Run], k: Int, of n: Int) -> [Run] { runs.filter { $0.index % n == k - 1 } }

    /// `k/N` with 1 ≤ k ≤ N.
    public static func parseShard(_ text: String) throws -> (Int, Int) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 1, k <= n else {
            throw InputError("--shard '\(text)': expected k/N with 1 ≤ k ≤ N (e.g. 2/8)")
        }
        return (k, n)
    }

    // MARK: Resolution

    /// The network and device of one run, with the fixed overrides and the run's assignments applied
    /// (each validated; errors name the field).
    /// The pseudo-fields `model` and `device` swap the whole preset (name or path) and are applied
    /// before any `model.FIELD` / `device.FIELD` override.
    public func resolve(_ assignments: [(field: String, value: String)]) throws -> (NetworkSpec, DeviceSpec?) {
        let all = set.map { ($0.field, $0.values[0]) } + assignments
        var spec = try NetworkSpec.load(all.last { $0.0 == "model" }?.1 ?? model)
        var dev = try (all.last { $0.0 == "device" }?.1 ?? device).map { try DeviceSpec.load($0) }
        for (field, value) in all where field != "model" && field != "device" {
            if field.hasPrefix("model.") {
                spec = try spec.setting(String(field.dropFirst(6)), to: value)
            } else if field.hasPrefix("device.") {
                guard let d = dev else { throw InputError("field '\(field)' needs a device (--device NAME)") }
                dev = try d.setting(String(field.dropFirst(7)), to: value)
            } else {
                throw InputError("unknown sweep field '\(field)': use model or device (a preset), model.FIELD (\(NetworkSpec.fieldNames.joined(separator: ", "))) or device.FIELD (see xbar devices show NAME)")
            }
        }
        return (spec, dev)
    }

    /// Checks everything that can be checked before a run starts: fields, values, counts.
    public func validate() throws {
        if seeds < 1 { throw InputError("--seeds must be ≥ 1 (got \(seeds))") }
        if random < 0 { throw InputError("--random must be ≥ 0 (got \(random))") }
        if random > 0 && ranges.isEmpty { throw InputError("--random \(random) needs at least one --range FIELD=lo:hi[:log]") }
        if !ranges.isEmpty && random == 0 { throw InputError("--range needs --random N (the number of points to draw)") }
        if fidelityBatches < 1 { throw InputError("--fidelity-batches must be ≥ 1 (got \(fidelityBatches))") }
        if let n = trainSubset, n < 1 { throw InputError("--train-subset must be ≥ 1 (got \(n))") }
        if let n = testSubset, n < 1 { throw InputError("--test-subset must be ≥ 1 (got \(n))") }
        let fields = set.map(\.field) + vary.map(\.field) + ranges.map(\.field)
        if let dup = Dictionary(grouping: fields, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw InputError("field '\(dup)' is given more than once (in --set, --vary or --range)")
        }
        for axis in vary where axis.values.isEmpty { throw InputError("--vary \(axis.field): empty value list") }
        // Every value of every axis, and both ends of every range, alone on the base configuration.
        if try resolve([]).0.kind == .convolutional {
            throw InputError("sweeps support the fully connected models (P-conv: use xbar train or scripts/reproduce-table1)")
        }
        for axis in vary { for v in axis.values { _ = try resolve([(axis.field, v)]) } }
        for r in ranges { for v in [r.lo, r.hi] { _ = try resolve([(r.field, String(format: "%.6g", v))]) } }
        // Then every combination (fields can constrain each other).
        for run in runs() where run.seed == 1 { _ = try resolve(run.assignments) }
    }
}

extension NetworkSpec {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Sets one field from YAML text (sweeps), through the same decoder and validation as files.
    public func setting(_ field: String, to value: String) throws -> NetworkSpec {
        guard Self.fieldNames.contains(field) else {
            throw InputError("unknown model field '\(field)' (known: \(Self.fieldNames.joined(separator: ", ")))")
        }
        var dict = (try Yams.load(yaml: yaml() + "\n") as? [String: Any]) ?? [:]
        dict[field] = try Yams.load(yaml: value)
        return try Self.decode(yaml: try Yams.dump(object: dict), source: "model.\(field)")
    }
}

/// One line of `results.jsonl`: the run, its full configuration, metrics and timing.
public struct SweepRecord: Codable, Sendable {
    public var key: String
    public var index: Int
    public var point: [String: String]
    public var seed: Int
    public var model: NetworkSpec
    public var device: DeviceSpec?
    public var metrics: [String: Double]
    public var testErrorPerEpoch: [Double]
    public var seconds: Double
    public var finished: String
    enum CodingKeys: String, CodingKey {
        case key, index, point, seed, model, device, metrics, seconds, finished
        case testErrorPerEpoch = "test_error_per_epoch"
    }
}

/// Runs one sweep point: trains (accuracy) and/or probes the update fidelity, in memory.
public enum SweepRunner {
    public static func run(_ run: SweepPlan.Run, plan: SweepPlan, data: DataSet) throws -> SweepRecord {
        let t0 = Date()
        let (spec, device) = try plan.resolve(run.assignments)
        let seed = UInt64(run.seed)
        let options = TrainingOptions(algorithm: .ep, seed: seed, dataset: plan.dataset, trainSubset: plan.trainSubset,
                                      testSubset: plan.testSubset, device: device)
        var metrics: [String: Double] = [:]
        var perEpoch: [Double] = []
        var params = Parameters<Float>.initial(spec: spec, seed: seed)
        if plan.measure != .fidelity {
            func train<W: SynapticArray>(_ trainer: inout Trainer<W>) where W.Scalar == Float {
                var trainErr = 0.0
                for e in 0..<spec.epochs {
                    trainErr = trainer.trainEpoch(e, epochs: spec.epochs)
                    perEpoch.append(trainer.evaluate())
                }
                metrics["train_error"] = trainErr
                metrics["test_error"] = perEpoch.last ?? trainer.evaluate()
                params = trainer.net.parameters
            }
            if let d = device {
                var t = try Trainer(net: TrainingRun.crossbarNetwork(spec: spec, parameters: params, device: d, seed: seed), options: options, data: data)
                train(&t)
            } else {
                var t = try Trainer(idealNet: IdealNetwork<Float>(spec: spec, parameters: params), options: options, data: data)
                train(&t)
            }
        }
        if plan.measure != .accuracy {
            var test = data.test
            if let n = plan.testSubset { test = test.subset(Array(0..<min(n, test.count))) }
            let f = FidelityRun.run(spec: spec, device: device, parameters: params, data: test, batches: plan.fidelityBatches, seed: seed)
            metrics["cosine"] = f.meanCosine
            metrics["relmse"] = f.layers.map(\.relmse.mean).reduce(0, +) / Double(max(f.layers.count, 1))
            metrics["sign_agreement"] = f.layers.map(\.signAgreement.mean).reduce(0, +) / Double(max(f.layers.count, 1))
            for l in f.layers {
                metrics["cosine.\(l.layer)"] = l.cosine.mean
                metrics["relmse.\(l.layer)"] = l.relmse.mean
                metrics["sign_agreement.\(l.layer)"] = l.signAgreement.mean
            }
        }
        let stamp = ISO8601DateFormatter().string(from: Date())
        return SweepRecord(key: run.key, index: run.index, point: Dictionary(uniqueKeysWithValues: run.assignments.map { ($0.field, $0.value) }),
                           seed: run.seed, model: spec, device: device, metrics: metrics, testErrorPerEpoch: perEpoch,
                           seconds: Date().timeIntervalSince(t0), finished: stamp)
    }
}

/// Runs a sweep into a folder: `plan.json` (the plan, checked on resume), `results.jsonl` (one
/// line per finished run, appended and flushed as it finishes). A crash or `kill -9` loses only
/// the runs in flight; a torn last line is cut off when the file is reopened.
public enum SweepExecutor {
    public static let planName = "plan.json", resultsName = "results.jsonl"

    public struct Summary: Sendable {
        public var total: Int, skipped: Int, done: Int
        public var failed: [String]
        public var seconds: Double
    }

    public struct Status: Sendable { public var done: Int, total: Int, running: Int, etaSeconds: Double }

    static func encodePlan(_ p: SweepPlan) -> Data {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return (try? enc.encode(p)) ?? Data()
    }

    public static func loadPlan(_ dir: String) throws -> SweepPlan {
        let path = (dir as NSString).appendingPathComponent(planName)
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("'\(dir)' holds no sweep (\(planName) missing)") }
        do { return try JSONDecoder().decode(SweepPlan.self, from: data) } catch { throw InputError("\(path): not a valid sweep plan (\(error))") }
    }

    /// Finished records of a folder (lines that do not parse are skipped).
    public static func records(_ dir: String) -> [SweepRecord] {
        let path = (dir as NSString).appendingPathComponent(resultsName)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let dec = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? dec.decode(SweepRecord.self, from: Data($0.utf8)) }
    }

    public static func execute(plan: SweepPlan, outDir: String, resume: Bool, jobs: Int, shard: (Int, Int)? = nil,
                               data preloaded: DataSet? = nil, status: ((Status) -> Void)? = nil) throws -> Summary {
        guard jobs >= 1 else { throw InputError("--jobs must be ≥ 1 (got \(jobs))") }
        try plan.validate()
        let data = try preloaded ?? DataSet.load(plan.dataset)
        let (base, _) = try plan.resolve([])
        guard base.layers.first == data.train.features, base.layers.last == data.train.classes else {
            throw InputError("model '\(base.name)' (\(base.layers.map(String.init).joined(separator: "-"))) does not fit data set '\(data.name)' (\(data.train.features) features, \(data.train.classes) classes)")
        }
        // Nothing is written before here.
        let planPath = (outDir as NSString).appendingPathComponent(planName)
        if FileManager.default.fileExists(atPath: planPath) {
            guard resume else { throw InputError("'\(outDir)' already holds a sweep; add --resume to continue it, or choose another --out") }
            let old = try loadPlan(outDir)
            guard old == plan else { throw InputError("--resume: the sweep in '\(outDir)' has a different plan (\(planPath)); use the same options or another --out") }
        } else {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            try AtomicFile.write(String(decoding: encodePlan(plan), as: UTF8.self) + "\n", to: planPath)
        }
        let writer = try JSONLWriter(path: (outDir as NSString).appendingPathComponent(resultsName))
        let finished = Set(records(outDir).map(\.key))
        var all = plan.runs()
        if let (k, n) = shard { all = SweepPlan.shard(all, k: k, of: n) }
        let todo = all.filter { !finished.contains($0.key) }
        // One BLAS thread per run: results must not depend on --jobs (OpenBLAS sums differ by thread count).
        let blasBefore = BLASThreads.count
        BLASThreads.set(1)
        defer { BLASThreads.set(blasBefore) }
        let lock = NSLock()
        nonisolated(unsafe) var next = 0, done = 0, running = 0
        nonisolated(unsafe) var failed: [String] = []
        nonisolated(unsafe) var runSeconds: [Double] = []
        nonisolated(unsafe) var firstError: Error? = nil
        let t0 = Date()
        let workers = min(jobs, max(todo.count, 1))
        func report() {
            let mean = runSeconds.isEmpty ? 0 : runSeconds.reduce(0, +) / Double(runSeconds.count)
            let eta = mean * Double(todo.count - done) / Double(workers)
            status?(Status(done: done, total: todo.count, running: running, etaSeconds: eta))
        }
        report()
        _ = parallelMap(workers) { _ in
            while true {
                lock.lock()
                if next >= todo.count || firstError != nil { lock.unlock(); return }
                let run = todo[next]; next += 1; running += 1
                report()
                lock.unlock()
                let result = Result { try SweepRunner.run(run, plan: plan, data: data) }
                lock.lock()
                running -= 1
                switch result {
                case .success(let rec):
                    do { try writer.append(rec); done += 1; runSeconds.append(rec.seconds) } catch { firstError = error }
                case .failure(let e):
                    failed.append("\(run.key): \(e)")
                    done += 1
                }
                report()
                lock.unlock()
            }
        }
        if let e = firstError { throw e }
        return Summary(total: all.count, skipped: all.count - todo.count, done: todo.count - failed.count, failed: failed,
                       seconds: Date().timeIntervalSince(t0))
    }

    // MARK: Merge

    public struct MergeReport: Sendable {
        public var runs: Int, present: Int
        public var missing: [String]
        public var duplicates: [String]
        /// Duplicated runs whose metrics differ between copies.
        public var conflicts: [String]
    }

    /// Merges shard folders (same plan) into `outDir`; reports missing and duplicated runs.
    public static func merge(_ dirs: [String], into outDir: String) throws -> MergeReport {
        guard !dirs.isEmpty else { throw InputError("sweep merge: give at least one sweep folder") }
        let plan = try loadPlan(dirs[0])
        for d in dirs.dropFirst() {
            if try loadPlan(d) == plan { continue }
            throw InputError("sweep merge: '\(d)' holds a different sweep than '\(dirs[0])' (their \(planName) differ)")
        }
        var byKey: [String: SweepRecord] = [:]
        var dups: [String] = [], conflicts: [String] = []
        for d in dirs {
            for r in records(d) {
                if let old = byKey[r.key] {
                    dups.append(r.key)
                    if old.metrics != r.metrics { conflicts.append(r.key) }
                } else {
                    byKey[r.key] = r
                }
            }
        }
        let runs = plan.runs()
        let missing = runs.map(\.key).filter { byKey[$0] == nil }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        try AtomicFile.write(String(decoding: encodePlan(plan), as: UTF8.self) + "\n", to: (outDir as NSString).appendingPathComponent(planName))
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let lines = byKey.values.sorted { $0.index < $1.index }.compactMap { try? enc.encode($0) }.map { String(decoding: $0, as: UTF8.self) + "\n" }
        try AtomicFile.write(lines.joined(), to: (outDir as NSString).appendingPathComponent(resultsName))
        return MergeReport(runs: runs.count, present: byKey.count, missing: missing, duplicates: dups, conflicts: conflicts)
    }

    // MARK: Report

    public struct Row: Sendable {
        public var values: [String]
        public var seeds: Int
        public var mean: [String: Double], std: [String: Double]
    }

    /// Mean and sample standard deviation over seeds, per point, for every metric.
    public static func table(_ dir: String) throws -> (fields: [String], metrics: [String], rows: [Row]) {
        let plan = try loadPlan(dir)
        let recs = records(dir)
        guard !recs.isEmpty else { throw InputError("sweep report: '\(dir)' has no finished runs yet") }
        let fields = plan.vary.map(\.field) + (plan.random > 0 ? plan.ranges.map(\.field) : [])
        let metrics = Array(Set(recs.flatMap { $0.metrics.keys })).sorted()
        var order: [String] = []
        var groups: [String: [SweepRecord]] = [:]
        for r in recs.sorted(by: { $0.index < $1.index }) {
            let k = fields.map { r.point[$0] ?? "" }.joined(separator: "\u{1F}")
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(r)
        }
        let rows: [Row] = order.map { k in
            let g = groups[k]!
            var mean: [String: Double] = [:], std: [String: Double] = [:]
            for m in metrics {
                let v = g.compactMap { $0.metrics[m] }
                guard !v.isEmpty else { continue }
                let mu = v.reduce(0, +) / Double(v.count)
                mean[m] = mu
                std[m] = v.count > 1 ? (v.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(v.count - 1)).squareRoot() : 0
            }
            return Row(values: fields.map { g[0].point[$0] ?? "" }, seeds: g.count, mean: mean, std: std)
        }
        return (fields, metrics, rows)
    }

    /// Writes `DIR/report.csv` and, for one varied field, `DIR/report.svg` with a line plot per
    /// metric (mean ± std over seeds); for two, a heatmap per metric. Returns the files written.
    @discardableResult
    public static func report(_ dir: String, metrics wanted: [String]? = nil) throws -> [String] {
        let (fields, metrics, rows) = try table(dir)
        var csv = (fields + ["seeds"] + metrics.flatMap { ["\($0)_mean", "\($0)_std"] }).joined(separator: ",") + "\n"
        for r in rows {
            let cells = r.values.map { $0.contains(",") ? "\"\($0)\"" : $0 } + [String(r.seeds)]
                + metrics.flatMap { m in [r.mean[m].map { String($0) } ?? "", r.std[m].map { String($0) } ?? ""] }
            csv += cells.joined(separator: ",") + "\n"
        }
        let csvPath = (dir as NSString).appendingPathComponent("report.csv")
        try AtomicFile.write(csv, to: csvPath)
        var written = [csvPath]
        let shown = (wanted ?? ["test_error", "cosine", "sign_agreement"]).filter { metrics.contains($0) }
        for m in wanted ?? [] where !metrics.contains(m) {
            throw InputError("sweep report: no metric '\(m)' in the results (have: \(metrics.joined(separator: ", ")))")
        }
        guard !shown.isEmpty else { return written }
        let plan = try loadPlan(dir)
        let title = "\(plan.model)\(plan.device.map { " on " + $0 } ?? ""): \(fields.joined(separator: " × "))"
        var panels: [SVGChart.Panel] = []
        if plan.random > 0 {
            // Random search: each metric against each drawn field, one point per draw (not a grid).
            for (i, m) in shown.enumerated() {
                for (fi, f) in fields.enumerated() {
                    let pts = rows.compactMap { r -> (Double, Double)? in
                        guard let x = Double(r.values[fi]), let y = r.mean[m] else { return nil }
                        return (x, y)
                    }.sorted { $0.0 < $1.0 }
                    guard !pts.isEmpty else { continue }
                    let logX = pts.first!.0 > 0 && pts.last!.0 / pts.first!.0 >= 20
                    panels.append(SVGChart.Panel(title: "\(m) vs \(f)", xLabel: f, yLabel: m,
                                                 content: .lines([SVGChart.Series(name: "", x: pts.map(\.0), y: pts.map(\.1), color: SVGChart.palette[i], pointsOnly: true)]),
                                                 logX: logX))
                }
            }
        } else if fields.count == 1 {
            let xs = rows.map { Double($0.values[0]) }
            let numeric = xs.allSatisfy { $0 != nil }
            let order = rows.indices.sorted { numeric ? xs[$0]! < xs[$1]! : $0 < $1 }
            let x = order.map { numeric ? xs[$0]! : Double($0) }
            let logX = numeric && (x.first ?? 0) > 0 && (x.last ?? 0) / (x.first ?? 1) >= 20
            for (i, m) in shown.enumerated() {
                let mu = order.map { rows[$0].mean[m] ?? .nan }, sd = order.map { rows[$0].std[m] ?? .nan }
                panels.append(SVGChart.Panel(title: "\(m) (mean ± std over seeds)", xLabel: fields[0], yLabel: m,
                                             content: .lines([SVGChart.Series(name: m, x: x, y: mu, color: SVGChart.palette[i], spread: sd)]),
                                             logX: logX))
            }
        } else if fields.count == 2 {
            let xv = uniqueInOrder(rows.map { $0.values[0] }), yv = uniqueInOrder(rows.map { $0.values[1] })
            for m in shown {
                var grid = [[Double]](repeating: [Double](repeating: .nan, count: xv.count), count: yv.count)
                for r in rows {
                    if let xi = xv.firstIndex(of: r.values[0]), let yi = yv.firstIndex(of: r.values[1]) { grid[yi][xi] = r.mean[m] ?? .nan }
                }
                panels.append(SVGChart.Panel(title: "\(m) (mean over seeds)", xLabel: fields[0], yLabel: fields[1],
                                             content: .heatmap(xLabels: xv, yLabels: yv, values: grid)))
            }
        } else {
            return written
        }
        let svgPath = (dir as NSString).appendingPathComponent("report.svg")
        try AtomicFile.write(SVGChart.render(title: title, panels: panels, columns: min(panels.count, 2), panelWidth: 440, panelHeight: 320), to: svgPath)
        written.append(svgPath)
        return written
    }

    static func uniqueInOrder(_ v: [String]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        let numeric = v.allSatisfy { Double($0) != nil }
        for s in v where !seen.contains(s) { seen.insert(s); out.append(s) }
        return numeric ? out.sorted { Double($0)! < Double($1)! } : out
    }
}
