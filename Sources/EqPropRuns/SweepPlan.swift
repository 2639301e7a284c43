import EqProp
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
    /// What each run measures: the update fidelity, the accuracy after training, or both.
    public enum Measure: String, Codable, Sendable, CaseIterable { case fidelity, accuracy, both }

    /// One field and its values (YAML scalars or flow lists, kept as text).
    public struct Axis: Codable, Equatable, Sendable {
        /// Field name: `model.FIELD`, `device.FIELD`, or `model` / `device` to swap the whole preset.
        public var field: String
        /// The values as YAML text, in order.
        public var values: [String]
        /// An axis of `field` over `values`.
        public init(field: String, values: [String]) { self.field = field; self.values = values }
    }

    /// A field drawn uniformly (or log-uniformly) from [lo, hi] for the random points.
    public struct Range: Codable, Equatable, Sendable {
        /// Dotted field name: `device.FIELD` or `model.FIELD`.
        public var field: String
        /// Bounds of the draw, lo < hi (lo > 0 for a log range).
        public var lo: Double, hi: Double
        /// Whether the draw is log-uniform.
        public var log: Bool
        /// A range of `field` over [lo, hi], log-uniform if `log`.
        public init(field: String, lo: Double, hi: Double, log: Bool) {
            self.field = field; self.lo = lo; self.hi = hi; self.log = log
        }
    }

    /// Network preset (name or path) every point starts from.
    public var model: String = "p-1h"
    /// Device preset (name or path); nil trains software weights.
    public var device: String?
    /// Fixed overrides applied to every point (same syntax as `vary`, one value each).
    public var set: [Axis] = []
    /// Grid axes: the points are their Cartesian product (first axis slowest).
    public var vary: [Axis] = []
    /// Random points drawn uniformly (or log-uniformly) from `ranges`, crossed with the grid.
    public var random: Int = 0
    /// The fields of the random draws and their ranges (the file's `range`).
    public var ranges: [Range] = []
    /// Seeds 1…seeds per point.
    public var seeds: Int = 1
    /// What each run measures.
    public var measure: Measure = .both
    /// Data set to train and probe on.
    public var dataset: String = "fashion-mnist"
    /// Train on a seeded subset of this many examples (nil = the whole training set).
    public var trainSubset: Int?
    /// Evaluate and probe on the first this-many test examples (nil = the whole test set).
    public var testSubset: Int?
    /// Fidelity probe: batches of the test set after training (or on the initial weights).
    public var fidelityBatches: Int = 10
    /// Seed of the random point draws (`--random`).
    public var drawSeed: UInt64 = 1

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, device, set, vary, random, ranges = "range", seeds, measure, dataset
        case trainSubset = "train_subset", testSubset = "test_subset", fidelityBatches = "fidelity_batches", drawSeed =
            "draw_seed"
    }

    /// The default plan: p-1h on software weights, no axes, one seed, both measures, fashion-mnist.
    public init() {}

    // MARK: Parsing

    /// `FIELD=v1,v2,…` (commas inside [ ] belong to a list value); `option` (`vary` or `set`) is named
    /// in errors.
    public static func parseAxis(_ text: String, option: String = "vary") throws -> Axis {
        guard let eq = text.firstIndex(of: "=") else {
            throw InputError(options: "{\(option)} '\(text)': expected FIELD=v1,v2,… (e.g. device.levels=16,64,256)")
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
        if field.isEmpty { throw InputError(options: "{\(option)} '\(text)': missing field name before '='") }
        if values.contains(where: \.isEmpty) {
            throw InputError(
                options: "{\(option)} \(field): empty value in '\(body)' (give a comma-separated list of values)")
        }
        return Axis(field: field, values: values)
    }

    /// `FIELD=lo:hi` or `FIELD=lo:hi:log`.
    public static func parseRange(_ text: String) throws -> Range {
        let usage = "expected FIELD=lo:hi or FIELD=lo:hi:log with numbers lo < hi (e.g. device.c2c=0.001:0.1:log)"
        guard let eq = text.firstIndex(of: "=") else { throw InputError(options: "{range} '\(text)': \(usage)") }
        let field = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let parts = text[text.index(after: eq)...].split(separator: ":", omittingEmptySubsequences: false).map {
            String($0).trimmingCharacters(in: .whitespaces)
        }
        guard !field.isEmpty, parts.count == 2 || (parts.count == 3 && (parts[2] == "log" || parts[2] == "lin")),
            let lo = Double(parts[0]), let hi = Double(parts[1]), lo.isFinite, hi.isFinite, lo < hi
        else {
            throw InputError(options: "{range} '\(text)': \(usage)")
        }
        let log = parts.count == 3 && parts[2] == "log"
        if log && lo <= 0 { throw InputError(options: "{range} '\(text)': a log range needs lo > 0") }
        return Range(field: field, lo: lo, hi: hi, log: log)
    }

    /// A sweep file (YAML; a path or a name in Models/sweeps): the fields of `CodingKeys`; `vary` and `set` map FIELD
    /// → list or value,
    /// `range` maps FIELD → "lo:hi[:log]".
    public static func load(file nameOrPath: String) throws -> SweepPlan {
        let path = try PresetLocator.resolve(nameOrPath, kind: "sweeps").path
        guard let text = String(data: try InputFile.read(path, what: "sweep file", maxBytes: 1 << 20), encoding: .utf8)
        else {
            throw InputError("sweep file '\(path)' is not UTF-8 text")
        }
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
            guard let i = v as? Int, i >= m else {
                throw InputError("\(source): field '\(k)' must be an integer ≥ \(m)")
            }
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
            guard let m = Measure(rawValue: v) else {
                throw InputError("\(source): field 'measure' must be fidelity, accuracy or both (got '\(v)')")
            }
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
            guard let m = v as? [String: Any] else {
                throw InputError("\(source): field '\(key)' must map FIELD → values")
            }
            var axes: [Axis] = []
            // Keep the file's order (Yams mappings are unordered dictionaries: re-read the order from the text).
            for field in orderedKeys(of: key, in: text, fallback: m.keys.sorted()) {
                guard let raw = m[field] else { continue }
                let values: [String]
                if key == "vary" {
                    guard let list = raw as? [Any] else {
                        throw InputError("\(source): vary.\(field) must be a list of values")
                    }
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
            guard let m = v as? [String: Any] else {
                throw InputError("\(source): field 'range' must map FIELD → \"lo:hi[:log]\"")
            }
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
                if let colon = t.firstIndex(of: ":") {
                    keys.append(String(t[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' ")))
                }
            }
        }
        return keys.count == fallback.count && Set(keys) == Set(fallback) ? keys : fallback
    }

    // MARK: Points

    /// One (point, seed): its field assignments in plan order and a stable key.
    public struct Run: Sendable, Equatable {
        /// Position of the run in `runs()`.
        public var index: Int
        /// The point's grid and random-draw assignments, in plan order.
        public var assignments: [(field: String, value: String)]
        /// Seed of the run, 1…seeds.
        public var seed: Int
        /// Stable identity of the run, `f=v,…#seed=s`: records are matched to runs by it.
        public var key: String {
            assignments.map { "\($0.field)=\($0.value)" }.joined(separator: ",") + "#seed=\(seed)"
        }
        /// Identity of the point, shared by its seeds: `f=v,…`.
        public var pointKey: String { assignments.map { "\($0.field)=\($0.value)" }.joined(separator: ",") }
        /// Runs are equal when their keys and indices are.
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
                    let v =
                        r.log
                        ? Foundation.exp(Foundation.log(r.lo) + u * (Foundation.log(r.hi) - Foundation.log(r.lo)))
                        : r.lo + u * (r.hi - r.lo)
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
            throw InputError(options: "{shard} '\(text)': expected k/N with 1 ≤ k ≤ N (e.g. 2/8)")
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
        for (field, value) in all where field != "model" && field != "device" && field != "algorithm" {
            if field.hasPrefix("model.") {
                spec = try spec.setting(String(field.dropFirst(6)), to: value)
            } else if field.hasPrefix("device.") {
                guard let d = dev else { throw InputError(options: "field '\(field)' needs a device ({device} NAME)") }
                dev = try d.setting(String(field.dropFirst(7)), to: value)
            } else {
                throw InputError(
                    "unknown sweep field '\(field)': use model or device (a preset), algorithm (ep or bptt), "
                        + "model.FIELD (\(NetworkSpec.fieldNames.joined(separator: ", "))) or device.FIELD (see xbar "
                        + "devices show NAME)"
                )
            }
        }
        return (spec, dev)
    }

    /// The training algorithm of one run: the pseudo-field `algorithm` (`ep` or `bptt`; BPTT on a
    /// device reads and programs it as EP does), EP when no assignment names it.
    public func algorithm(_ assignments: [(field: String, value: String)]) throws -> Algorithm {
        let all = set.map { ($0.field, $0.values[0]) } + assignments
        guard let v = all.last(where: { $0.0 == "algorithm" })?.1 else { return .ep }
        guard let a = Algorithm(rawValue: v) else {
            throw InputError("sweep field 'algorithm' must be ep or bptt (got '\(v)')")
        }
        return a
    }

    /// Runs a sweep may have unless `allowLarge` is given (each run is at least seconds of work), and
    /// with it; and the largest seed and random-draw counts.
    public static let maxRuns = 10_000, maxRunsAllowed = 1_000_000, maxCount = 1_000_000

    /// Number of runs (points × seeds), or nil if it overflows.
    public var runCount: Int? {
        var n = random > 0 ? random : 1
        for axis in vary {
            let (p, o) = n.multipliedReportingOverflow(by: max(axis.values.count, 1)); if o { return nil }; n = p
        }
        let (p, o) = n.multipliedReportingOverflow(by: max(seeds, 1))
        return o ? nil : p
    }

    /// Checks everything that can be checked before a run starts: fields, values, counts. A plan of
    /// more than `maxRuns` runs is refused unless `allowLarge` (up to `maxRunsAllowed`).
    public func validate(allowLarge: Bool = false) throws {
        if seeds < 1 || seeds > Self.maxCount {
            throw InputError(options: "{seeds} must be in 1…\(Self.maxCount) (got \(seeds))")
        }
        if random < 0 || random > Self.maxCount {
            throw InputError(options: "{random} must be in 0…\(Self.maxCount) (got \(random))")
        }
        let cap = allowLarge ? Self.maxRunsAllowed : Self.maxRuns
        guard let count = runCount, count <= cap else {
            let n = runCount.map(String.init) ?? "more than \(Int.max)"
            throw InputError(
                options: allowLarge
                    ? "the sweep has \(n) runs, more than \(cap); split it into several sweeps"
                    : "the sweep has \(n) runs, more than \(cap); add {allow_large} to run up to "
                        + "\(Self.maxRunsAllowed), or vary fewer values"
            )
        }
        if random > 0 && ranges.isEmpty {
            throw InputError(options: "{random} \(random) needs at least one {range} FIELD=lo:hi[:log]")
        }
        if !ranges.isEmpty && random == 0 {
            throw InputError(options: "{range} needs {random} N (the number of points to draw)")
        }
        if fidelityBatches < 1 { throw InputError(options: "{fidelity_batches} must be ≥ 1 (got \(fidelityBatches))") }
        if let n = trainSubset, n < 1 { throw InputError(options: "{train_subset} must be ≥ 1 (got \(n))") }
        if let n = testSubset, n < 1 { throw InputError(options: "{test_subset} must be ≥ 1 (got \(n))") }
        let fields = set.map(\.field) + vary.map(\.field) + ranges.map(\.field)
        if let dup = Dictionary(grouping: fields, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw InputError(options: "field '\(dup)' is given more than once (in {set}, {vary} or {range})")
        }
        for axis in vary where axis.values.isEmpty {
            throw InputError(options: "{vary} \(axis.field): empty value list")
        }
        for axis in vary {
            if let dup = Dictionary(grouping: axis.values, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw InputError(options: "{vary} \(axis.field): value '\(dup)' is given more than once")
            }
        }
        // Every value of every axis, and both ends of every range, alone on the base configuration.
        for axis in vary { for v in axis.values { _ = try resolve([(axis.field, v)]) } }
        for r in ranges { for v in [r.lo, r.hi] { _ = try resolve([(r.field, String(format: "%.6g", v))]) } }
        // Then every combination (fields can constrain each other).
        for run in runs() where run.seed == 1 {
            let (spec, device) = try resolve(run.assignments)
            if let device, device.wireResistance > 0, device.irDropModel == .exact {
                do {
                    try device.checkArrays(
                        Parameters<Float>.initial(spec: spec, seed: 1).weights.map { ($0.rows, $0.cols) })
                } catch let e as InputError { throw InputError("sweep point \(run.key): \(e.message)") }
            }
            if try algorithm(run.assignments) == .bptt {
                if device != nil && spec.kind == .convolutional {
                    throw InputError(
                        "sweep point \(run.key): algorithm bptt on crossbars needs a fully connected model")
                }
                if measure == .fidelity {
                    throw InputError(
                        options:
                            "sweep point \(run.key): algorithm bptt with {measure} fidelity probes EP's update on "
                            + "the initial weights, as ep does; measure accuracy or both"
                    )
                }
            }
            if measure != .fidelity && spec.epochs < 1 {
                throw InputError(
                    "sweep point \(run.key): model field 'epochs' must be ≥ 1 to measure accuracy (got \(spec.epochs))")
            }
        }
    }
}
