/// One weight matrix W (out × in) as the learning rule sees it: two reads and a local update.
///
/// EP needs nothing else from a synapse array, so both ideal dense weights and (later) analog
/// crossbars implement this protocol and the dynamics, EP and training code never ask which one they
/// hold. BPTT and the fidelity metrics use `weights`, the exact values the array holds now.
public protocol SynapticArray<Scalar> {
    associatedtype Scalar: EPScalar
    /// Number of output units (rows of W).
    var outputs: Int { get }
    /// Number of input units (columns of W).
    var inputs: Int { get }
    /// Forward read `Y ← X·Wᵀ (+ Y if accumulate)`; X is B × in, Y is B × out, at the simulated time
    /// of `clock` (arrays with time-correlated read noise read it there; exact arrays ignore it).
    func multiply(_ x: Matrix<Scalar>, into y: inout Matrix<Scalar>, accumulate: Bool, clock: ReadClock)
    /// Transposed read `X ← Y·W (+ X if accumulate)`; Y is B × out, X is B × in.
    func multiplyTransposed(_ y: Matrix<Scalar>, into x: inout Matrix<Scalar>, accumulate: Bool, clock: ReadClock)
    /// Local outer-product update `W ← W + scale · postᵀ·pre` (post B × out, pre B × in), at the
    /// simulated time of `clock`.
    mutating func update(post: Matrix<Scalar>, pre: Matrix<Scalar>, scale: Scalar, clock: ReadClock)
    /// The contrastive EP update `W ← W + scale·(post⁺ᵀ·pre⁺ − post⁻ᵀ·pre⁻)`. The default applies it
    /// as two passes; hardware arrays may program it as one pass of the difference.
    mutating func updateContrastive(
        plus: (post: Matrix<Scalar>, pre: Matrix<Scalar>),
        minus: (post: Matrix<Scalar>, pre: Matrix<Scalar>), scale: Scalar, clock: ReadClock)
    /// The weights the array holds now, as an ideal read would see them.
    var weights: Matrix<Scalar> { get }
    /// True when reads are exact and deterministic (ideal weights): a read of a constant input
    /// (the data x) may then be computed once per batch instead of at every dynamics step.
    var readsAreExact: Bool { get }
    /// True when updates are applied exactly (ideal weights): the update of a batch is then the sum
    /// of the updates of its parts, and parts may be applied one after another.
    var updatesAreExact: Bool { get }
    /// State to checkpoint beyond the weights (device conductances, write noise); empty when the
    /// weights say everything.
    var state: [String: [Float]] { get }
    /// Restores `state` from a checkpoint.
    func restore(_ state: [String: [Float]]) throws
    /// What reading and programming the array has cost since it was made (zero for software weights).
    var costs: ArrayCosts { get }
}

/// Hardware work of an array, counted since it was made: what decides energy and time on a chip.
public struct ArrayCosts: Codable, Equatable, Sendable {
    /// Pulses fired, summed over devices (a push–pull pair counts both devices).
    public var pulses: Double = 0
    /// Device updates: devices that received at least one pulse, summed over updates.
    public var devicesPulsed = 0
    /// Matrix reads through the periphery (forward or transposed; one read serves a whole batch).
    public var reads = 0
    /// Digital accumulator operations (mixed precision: one add per synapse per update).
    public var accumulatorOps = 0
    /// DAC and ADC conversions: one per driven and per sensed line of every sample of every read.
    public var dacConversions = 0.0, adcConversions = 0.0
    /// Energy (J) of the cells during reads (V²·G·t per device), of the converters, and of the
    /// write pulses (V²·G·t per pulse); see `EnergyModel`.
    public var readEnergy = 0.0, converterEnergy = 0.0, writeEnergy = 0.0
    /// Latency (s) of the reads (one read pulse per sample) and of the programming (row by row for
    /// pulse counts, 2·BL slots per sample for stochastic trains).
    public var readLatency = 0.0, writeLatency = 0.0
    /// One-sided pairs refreshed (reset and rewritten).
    public var refreshes = 0

    /// No work yet.
    public init() {}
    enum CodingKeys: String, CodingKey {
        case pulses, devicesPulsed = "devices_pulsed", reads, accumulatorOps = "accumulator_ops"
        case dacConversions = "dac_conversions", adcConversions = "adc_conversions", readEnergy = "read_energy"
        case converterEnergy = "converter_energy", writeEnergy = "write_energy", readLatency = "read_latency",
            writeLatency = "write_latency"
        case refreshes
    }
    /// Decodes counts; those written before the energy model existed are 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pulses = try c.decode(Double.self, forKey: .pulses);
        devicesPulsed = try c.decode(Int.self, forKey: .devicesPulsed)
        reads = try c.decode(Int.self, forKey: .reads); accumulatorOps = try c.decode(Int.self, forKey: .accumulatorOps)
        func get(_ k: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: k) ?? 0 }
        dacConversions = try get(.dacConversions); adcConversions = try get(.adcConversions)
        readEnergy = try get(.readEnergy); converterEnergy = try get(.converterEnergy);
        writeEnergy = try get(.writeEnergy)
        readLatency = try get(.readLatency); writeLatency = try get(.writeLatency)
        refreshes = try c.decodeIfPresent(Int.self, forKey: .refreshes) ?? 0
    }
    /// The counts divided by `samples` (per training sample).
    public func perSample(_ samples: Int) -> ArrayCosts {
        let n = Double(max(samples, 1))
        var c = ArrayCosts()
        c.pulses = pulses / n; c.devicesPulsed = Int((Double(devicesPulsed) / n).rounded());
        c.reads = Int((Double(reads) / n).rounded())
        c.accumulatorOps = Int((Double(accumulatorOps) / n).rounded())
        c.dacConversions = dacConversions / n; c.adcConversions = adcConversions / n; c.readEnergy = readEnergy / n
        c.converterEnergy = converterEnergy / n; c.writeEnergy = writeEnergy / n; c.readLatency = readLatency / n;
        c.writeLatency = writeLatency / n
        c.refreshes = Int((Double(refreshes) / n).rounded())
        return c
    }
    /// Total energy (J): cells read, converters, write pulses.
    public var energy: Double { readEnergy + converterEnergy + writeEnergy }
    /// Total latency (s): reads and programming, one after the other.
    public var latency: Double { readLatency + writeLatency }
    /// The sum of two counts.
    public static func + (a: ArrayCosts, b: ArrayCosts) -> ArrayCosts {
        var c = a
        c.pulses += b.pulses; c.devicesPulsed += b.devicesPulsed; c.reads += b.reads;
        c.accumulatorOps += b.accumulatorOps
        c.dacConversions += b.dacConversions; c.adcConversions += b.adcConversions; c.readEnergy += b.readEnergy
        c.converterEnergy += b.converterEnergy; c.writeEnergy += b.writeEnergy; c.readLatency += b.readLatency;
        c.writeLatency += b.writeLatency
        c.refreshes += b.refreshes
        return c
    }
    /// The work done between two counts (`a` after `b`).
    public static func - (a: ArrayCosts, b: ArrayCosts) -> ArrayCosts {
        var c = a
        c.pulses -= b.pulses; c.devicesPulsed -= b.devicesPulsed; c.reads -= b.reads;
        c.accumulatorOps -= b.accumulatorOps
        c.dacConversions -= b.dacConversions; c.adcConversions -= b.adcConversions; c.readEnergy -= b.readEnergy
        c.converterEnergy -= b.converterEnergy; c.writeEnergy -= b.writeEnergy; c.readLatency -= b.readLatency;
        c.writeLatency -= b.writeLatency
        c.refreshes -= b.refreshes
        return c
    }
}

/// Simulated time as one relaxation's reads see it. The caller owns it and moves it on: one
/// dynamics step (`step()`), or the gap between the free and the nudged phase (`gap()`); arrays
/// read their time-correlated noise at its time and keep no clock of their own.
///
/// `lane` names the concurrently relaxed part of a batch the reads belong to (each lane of an array
/// has its own white-noise stream and read cache, so no lane waits for another); the parts of one
/// batch are read at the same instants (`atLane(_:)`). `epoch` selects the arrays' random streams
/// (re-derived from (seed, layer, epoch), so a run resumed at an epoch boundary continues with the
/// same numbers); nil keeps the streams the arrays have.
public final class ReadClock: @unchecked Sendable {
    /// The concurrently relaxed part of the batch these reads belong to (0 when there is one).
    public let lane: Int
    /// The epoch whose random streams the arrays use (nil keeps the streams they have).
    public let epoch: Int?
    /// Dynamics steps and phase gaps since the epoch started.
    public private(set) var steps = 0, gaps = 0

    /// A clock at time zero (no steps, no gaps) for `lane` and `epoch`.
    public init(lane: Int = 0, epoch: Int? = nil) { self.lane = lane; self.epoch = epoch }

    /// One dynamics step passes.
    public func step() { steps += 1 }
    /// The gap between the free and the nudged phase passes.
    public func gap() { gaps += 1 }
    /// A clock for lane `k` at this clock's time.
    public func atLane(_ k: Int) -> ReadClock {
        let c = ReadClock(lane: k, epoch: epoch)
        c.steps = steps; c.gaps = gaps
        return c
    }
    /// Elapsed simulated time (s) for a step of `stepSeconds` and a gap of `gapSeconds`.
    public func time(stepSeconds: Double, gapSeconds: Double) -> Double {
        Double(steps) * stepSeconds + Double(gaps) * gapSeconds
    }
}

extension SynapticArray {
    /// A read at an unmoving clock (lane 0, the arrays' current streams).
    @inline(__always)
    public func multiply(_ x: Matrix<Scalar>, into y: inout Matrix<Scalar>, accumulate: Bool) {
        multiply(x, into: &y, accumulate: accumulate, clock: ReadClock())
    }
    /// A transposed read at an unmoving clock (lane 0, the arrays' current streams).
    @inline(__always)
    public func multiplyTransposed(_ y: Matrix<Scalar>, into x: inout Matrix<Scalar>, accumulate: Bool) {
        multiplyTransposed(y, into: &x, accumulate: accumulate, clock: ReadClock())
    }
    /// An update with the arrays' current streams.
    public mutating func update(post: Matrix<Scalar>, pre: Matrix<Scalar>, scale: Scalar) {
        update(post: post, pre: pre, scale: scale, clock: ReadClock())
    }
    /// The default contrastive update: two passes, +`scale` with the nudged terms, −`scale` with the free.
    public mutating func updateContrastive(
        plus: (post: Matrix<Scalar>, pre: Matrix<Scalar>),
        minus: (post: Matrix<Scalar>, pre: Matrix<Scalar>), scale: Scalar, clock: ReadClock
    ) {
        update(post: plus.post, pre: plus.pre, scale: scale, clock: clock)
        update(post: minus.post, pre: minus.pre, scale: -scale, clock: clock)
    }
    /// No state beyond the weights (the default).
    public var state: [String: [Float]] { [:] }
    /// Nothing to restore (the default).
    public func restore(_ state: [String: [Float]]) throws {}
    /// No hardware work (the default: software weights).
    public var costs: ArrayCosts { ArrayCosts() }
}

/// Arrays whose weights can be set directly (ideal weights): used by BPTT training and by finite
/// differences, never by EP.
public protocol WritableArray: SynapticArray {
    init(_ weights: Matrix<Scalar>)
    var weights: Matrix<Scalar> { get set }
}

/// Ideal weights: a dense matrix read and written exactly, through BLAS.
public struct DenseArray<Scalar: EPScalar>: WritableArray, Sendable {
    /// The weights W (out × in), read and written exactly.
    public var weights: Matrix<Scalar>
    /// An array holding `w` exactly.
    public init(_ w: Matrix<Scalar>) { weights = w }
    /// Number of output units (rows of W).
    public var outputs: Int { weights.rows }
    /// Number of input units (columns of W).
    public var inputs: Int { weights.cols }
    /// Always true: dense reads are exact and deterministic.
    public var readsAreExact: Bool { true }
    /// Always true: updates are added exactly.
    public var updatesAreExact: Bool { true }

    /// Y ← X·Wᵀ (+ Y) with one GEMM; the clock is ignored.
    @inline(__always)
    public func multiply(_ x: Matrix<Scalar>, into y: inout Matrix<Scalar>, accumulate: Bool, clock: ReadClock) {
        gemm(x, weights, transposeB: true, into: &y, beta: accumulate ? 1 : 0)
    }
    /// X ← Y·W (+ X) with one GEMM; the clock is ignored.
    @inline(__always)
    public func multiplyTransposed(
        _ y: Matrix<Scalar>, into x: inout Matrix<Scalar>, accumulate: Bool, clock: ReadClock
    ) {
        gemm(y, weights, into: &x, beta: accumulate ? 1 : 0)
    }
    /// W ← W + scale·postᵀ·pre with one GEMM; the clock is ignored.
    @inline(__always)
    public mutating func update(post: Matrix<Scalar>, pre: Matrix<Scalar>, scale: Scalar, clock: ReadClock) {
        gemm(post, transposeA: true, pre, into: &weights, alpha: scale, beta: 1)
    }
}
