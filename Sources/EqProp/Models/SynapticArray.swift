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
    /// Forward read `Y ← X·Wᵀ (+ Y if accumulate)`; X is B × in, Y is B × out, through read lane
    /// `lane` (see `prepareLanes`; 0 when a batch is relaxed in one piece).
    func multiply(_ x: Matrix<Scalar>, into y: inout Matrix<Scalar>, accumulate: Bool, lane: Int)
    /// Transposed read `X ← Y·W (+ X if accumulate)`; Y is B × out, X is B × in.
    func multiplyTransposed(_ y: Matrix<Scalar>, into x: inout Matrix<Scalar>, accumulate: Bool, lane: Int)
    /// Local outer-product update `W ← W + scale · postᵀ·pre` (post B × out, pre B × in).
    mutating func update(post: Matrix<Scalar>, pre: Matrix<Scalar>, scale: Scalar)
    /// The weights the array holds now, as an ideal read would see them.
    var weights: Matrix<Scalar> { get }
    /// True when reads are exact and deterministic (ideal weights): a read of a constant input
    /// (the data x) may then be computed once per batch instead of at every dynamics step.
    var readsAreExact: Bool { get }
    /// True when updates are applied exactly (ideal weights): the update of a batch is then the sum
    /// of the updates of its parts, and parts may be applied one after another.
    var updatesAreExact: Bool { get }
    /// The contrastive EP update `W ← W + scale·(post⁺ᵀ·pre⁺ − post⁻ᵀ·pre⁻)`. The default applies it
    /// as two passes; hardware arrays may program it as one pass of the difference.
    mutating func updateContrastive(plus: (post: Matrix<Scalar>, pre: Matrix<Scalar>),
                                    minus: (post: Matrix<Scalar>, pre: Matrix<Scalar>), scale: Scalar)
    /// Simulated time passes for read lane `lane`: one dynamics step, or the gap between the free and
    /// the nudged phase. Arrays with time-correlated read noise read their noise traces at the new
    /// time (their device preset says how long a step and a gap last); ideal arrays ignore it.
    func clockTick(_ event: ClockEvent, lane: Int)
    /// Called (from one thread) before `count` parts of a batch are relaxed concurrently, part k
    /// reading through lane k; lazily built state must be built here. The parts are rows of one
    /// batch, read at the same simulated instants: every lane starts at lane 0's time and sees the
    /// same time-correlated noise; what a lane owns is its own white-noise stream, read cache and
    /// clock, so no lane waits for another.
    func prepareLanes(_ count: Int)
    /// A training epoch starts: arrays with random streams re-derive them from (seed, layer, epoch),
    /// so a run resumed at an epoch boundary continues with the same numbers.
    func beginEpoch(_ epoch: Int)
    /// State to checkpoint beyond the weights (device conductances, write noise); empty when the
    /// weights say everything.
    var state: [String: [Float]] { get }
    /// Restores `state` from a checkpoint.
    func restore(_ state: [String: [Float]]) throws
}

public enum ClockEvent: Sendable { case step, phaseGap }

extension SynapticArray {
    /// A read through lane 0 (the whole batch in one piece).
    @inline(__always)
    public func multiply(_ x: Matrix<Scalar>, into y: inout Matrix<Scalar>, accumulate: Bool) {
        multiply(x, into: &y, accumulate: accumulate, lane: 0)
    }
    @inline(__always)
    public func multiplyTransposed(_ y: Matrix<Scalar>, into x: inout Matrix<Scalar>, accumulate: Bool) {
        multiplyTransposed(y, into: &x, accumulate: accumulate, lane: 0)
    }
    public func clockTick(_ event: ClockEvent) { clockTick(event, lane: 0) }
    public mutating func updateContrastive(plus: (post: Matrix<Scalar>, pre: Matrix<Scalar>),
                                           minus: (post: Matrix<Scalar>, pre: Matrix<Scalar>), scale: Scalar) {
        update(post: plus.post, pre: plus.pre, scale: scale)
        update(post: minus.post, pre: minus.pre, scale: -scale)
    }
    public func clockTick(_ event: ClockEvent, lane: Int) {}
    public func prepareLanes(_ count: Int) {}
    public func beginEpoch(_ epoch: Int) {}
    public var state: [String: [Float]] { [:] }
    public func restore(_ state: [String: [Float]]) throws {}
}

/// Arrays whose weights can be set directly (ideal weights): used by BPTT training and by finite
/// differences, never by EP.
public protocol WritableArray: SynapticArray {
    init(_ weights: Matrix<Scalar>)
    var weights: Matrix<Scalar> { get set }
}

/// Ideal weights: a dense matrix read and written exactly, through BLAS.
public struct DenseArray<Scalar: EPScalar>: WritableArray, Sendable {
    public var weights: Matrix<Scalar>
    public init(_ w: Matrix<Scalar>) { weights = w }
    public var outputs: Int { weights.rows }
    public var inputs: Int { weights.cols }
    public var readsAreExact: Bool { true }
    public var updatesAreExact: Bool { true }

    @inline(__always)
    public func multiply(_ x: Matrix<Scalar>, into y: inout Matrix<Scalar>, accumulate: Bool, lane: Int) {
        gemm(x, weights, transposeB: true, into: &y, beta: accumulate ? 1 : 0)
    }
    @inline(__always)
    public func multiplyTransposed(_ y: Matrix<Scalar>, into x: inout Matrix<Scalar>, accumulate: Bool, lane: Int) {
        gemm(y, weights, into: &x, beta: accumulate ? 1 : 0)
    }
    @inline(__always)
    public mutating func update(post: Matrix<Scalar>, pre: Matrix<Scalar>, scale: Scalar) {
        gemm(post, transposeA: true, pre, into: &weights, alpha: scale, beta: 1)
    }
}
