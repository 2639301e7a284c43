import Foundation

/// Where an array keeps its weights and how an update is written into them.
protocol WeightStore: AnyObject {
    /// What the store holds now, as an ideal read sees it.
    var weights: Matrix<Float> { get }
    /// The conductances behind the weights (nil when the weights are stored exactly).
    var conductances: ConductanceStorage? { get }
    /// Whether a write adds exactly Σ scale·postᵀ·pre (then the update of a batch is the sum of the
    /// updates of its parts).
    var isExact: Bool { get }
    /// Writes Σ_k scale_k·post_kᵀ·pre_k: one update, programmed in one pass or, when `passes` is
    /// `.two` and the devices are pulsed directly, one pass per term.
    func write(_ terms: [UpdateTerm], passes: UpdatePasses)
    /// Training epoch `epoch` starts: the write stream is re-derived under `tag` (`xbar/<layer>/epoch<e>`).
    func reset(seed: UInt64, tag: String, epoch: Int)
    /// Device state for checkpoints (empty when exact: the weights are the checkpoint's own tensors).
    var state: [String: [Float]] { get }
    func restore(_ s: [String: [Float]]) throws
    /// Programming work so far (pulses, devices pulsed, accumulator operations).
    var writeCosts: ArrayCosts { get }
    /// Every conductance storage of the store (none when exact; C then A under Tiki-Taka), for
    /// effects that act on all devices (drift). Call `conductancesChanged()` after changing them.
    var allConductances: [ConductanceStorage] { get }
    /// The conductances were changed from outside: what the store derived from them is stale.
    func conductancesChanged()
    /// The weight change of one pulse at the law's mean step on the devices an update pulses (nil
    /// when the weights are stored exactly).
    var pulseUnit: Float? { get }
}

extension WeightStore {
    var allConductances: [ConductanceStorage] { conductances.map { [$0] } ?? [] }
    func conductancesChanged() {}
    var pulseUnit: Float? { nil }
}

/// Exactly stored weights, written with BLAS: the same calls as `DenseArray`, so an array of the
/// `ideal` device trains bit-identically to software weights.
final class ExactWeights: WeightStore {
    var weights: Matrix<Float>
    init(_ w: Matrix<Float>) { weights = w }
    var conductances: ConductanceStorage? { nil }
    var isExact: Bool { true }
    func write(_ terms: [UpdateTerm], passes: UpdatePasses) {
        for t in terms { gemm(t.post, transposeA: true, t.pre, into: &weights, alpha: t.scale, beta: 1) }
    }
    func reset(seed: UInt64, tag: String, epoch: Int) {}
    var state: [String: [Float]] { [:] }
    func restore(_ s: [String: [Float]]) throws {}
    var writeCosts: ArrayCosts { ArrayCosts() }
}

/// Weights held as device conductances and written as pulses: storage, the law's per-device
/// responses, and the programmer.
final class ProgrammedConductances: WeightStore {
    let cells: ConductanceStorage
    let programmer: PulseProgrammer
    let responses: (positive: any ResponseTable, negative: any ResponseTable)

    /// Streams (seed, `tag` = `xbar/<layer>`): `/d2d` (device draws), `/faults`, `/write`.
    init<L: DeviceLaw>(spec: DeviceSpec, law: L, weights w: Matrix<Float>, seed: UInt64, tag: String) {
        var d2d = RandomStream(seed: seed, stream: tag + "/d2d")
        var faults = RandomStream(seed: seed, stream: tag + "/faults")
        var write = RandomStream(seed: seed, stream: tag + "/write")
        responses = responseTables(law, count: w.count, maxPulses: spec.maxPulses, rng: &d2d)
        cells = ConductanceStorage(spec: spec, weights: w, faults: &faults, write: &write)
        programmer = PulseProgrammer(spec: spec, meanStep: law.meanStep, rng: write, count: w.count)
        programmer.configureRefresh(spec.device)
        Self.applyDeviceBounds(cells, responses)
    }

    /// Devices whose law spreads their bounds: the initial write lands within each device's own
    /// bounds, and restored states may lie anywhere within the widest of them.
    private static func applyDeviceBounds(
        _ cells: ConductanceStorage, _ t: (positive: any ResponseTable, negative: any ResponseTable)
    ) {
        var lo: Float = 0, hi: Float = 1, inside = true
        func include(_ b: (lower: Float, upper: Float)) {
            lo = min(lo, b.lower); hi = max(hi, b.upper)
            if b.lower != 0 || b.upper != 1 { inside = false }
        }
        for i in 0..<cells.count {
            include(t.positive.bounds(device: i))
            if cells.pairs { include(t.negative.bounds(device: i)) }
        }
        guard !inside else { return }
        cells.envelope = lo...hi
        for i in 0..<cells.count {
            let bp = t.positive.bounds(device: i)
            if cells.stuckPos[i] == 0 { cells.uPos[i] = min(max(cells.uPos[i], bp.lower), bp.upper) }
            if cells.pairs && cells.stuckNeg[i] == 0 {
                let bn = t.negative.bounds(device: i)
                cells.uNeg[i] = min(max(cells.uNeg[i], bn.lower), bn.upper)
            }
        }
        cells.cachedWeights = nil; cells.cachedH = nil
    }

    var weights: Matrix<Float> { cells.weights }
    var conductances: ConductanceStorage? { cells }
    var isExact: Bool { false }
    var pulseUnit: Float? { cells.pulseGain * programmer.meanStep }
    /// Mixed precision accumulates digitally: the difference of an EP update goes into χ as one update.
    func write(_ terms: [UpdateTerm], passes: UpdatePasses) {
        if passes == .two && programmer.accumulator == nil {
            for t in terms { programmer.program([t], into: cells, pos: responses.positive, neg: responses.negative) }
        } else {
            programmer.program(terms, into: cells, pos: responses.positive, neg: responses.negative)
        }
    }
    func reset(seed: UInt64, tag: String, epoch: Int) {
        programmer.reset(RandomStream(seed: seed, stream: tag + "/write"))
    }
    var writeCosts: ArrayCosts {
        var c = ArrayCosts()
        c.pulses = programmer.pulsesFired; c.devicesPulsed = programmer.devicesPulsed
        c.writeEnergy = programmer.writeEnergy; c.writeLatency = programmer.writeLatency;
        c.refreshes = programmer.refreshes
        c.accumulatorOps = programmer.accumulator?.accumulatorOps ?? 0
        return c
    }
    /// The conductances, and χ under mixed precision.
    var state: [String: [Float]] { cells.state.merging(programmer.accumulator?.state() ?? [:]) { a, _ in a } }
    func restore(_ s: [String: [Float]]) throws {
        var rest = s
        if let acc = programmer.accumulator { try acc.restore(s); rest["chi"] = nil }
        try cells.restore(rest)
    }
}
