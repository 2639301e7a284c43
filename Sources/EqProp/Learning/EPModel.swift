/// A model EP can train: its states relax under a transition F(x, s, θ) whose weights live in
/// synaptic arrays, and its EP update is a local function of the states that end the two phases.
///
/// The fully connected models (`Network`) and P-conv (`ConvNet`) conform; the trainer, the fidelity
/// probe and sweeps are written once against this protocol and never ask which model or which arrays
/// they hold. On the arrays a model makes only reads (forward and transposed), local outer-product
/// updates, and reads of the held `weights` (for BPTT and the fidelity reference).
public protocol EPModel {
    associatedtype Array: SynapticArray
    /// What stays fixed while the model relaxes on one batch (or one chunk of it).
    associatedtype Context
    /// What BPTT training needs from one chunk: the gradients and the final state.
    associatedtype BPTTResult

    var spec: NetworkSpec { get }
    /// One array per weight matrix, in learning-rate order.
    var arrays: [Array] { get set }
    /// Biases per state layer (per channel for conv layers).
    var biases: [[Array.Scalar]] { get set }

    /// The context of a batch whose reads happen at `clock` (which the relaxation moves on), with
    /// optional noise on the hidden pre-activations.
    func context(x: Matrix<Array.Scalar>, y: Matrix<Array.Scalar>, clock: ReadClock, neuronNoise: NeuronNoise?)
        -> Context
    /// T steps from zero.
    func freePhase(_ ctx: Context) -> State<Array.Scalar>
    /// The free and nudged phases (the nudging variant of `spec`; `sign` ±1 for random-sign).
    func phases(_ ctx: Context, sign: Array.Scalar) -> EquilibriumPropagation.Phases<Array.Scalar>
    /// θ += lr·Δθ^EP for a batch whose chunks relaxed separately on the same weights; `batchSize` is
    /// that of the whole batch. Exact arrays may apply the chunks one by one; others are programmed
    /// once with the whole batch's update, at the first chunk's clock.
    mutating func applyEP(
        _ parts: [(context: Context, phases: EquilibriumPropagation.Phases<Array.Scalar>)], batchSize: Int)
    /// Truncated BPTT over the last `window` transitions of the free phase, on the held weights.
    func bptt(_ ctx: Context, window: Int) -> BPTTResult
    /// The final free-phase state of a BPTT run.
    static func finalState(_ r: BPTTResult) -> State<Array.Scalar>
    /// −lr·∇θ BPTT (truncated to the last K transitions) per weight matrix, in Double, on the weights
    /// the arrays hold now: the reference of the fidelity probe.
    func referenceStep(x: Matrix<Float>, y: Matrix<Float>) -> [[Double]]
}

extension EPModel {
    /// Exact weights of every array (what BPTT and the fidelity metrics use).
    public var weights: [Matrix<Array.Scalar>] { arrays.map(\.weights) }
    /// All parameters as the arrays hold them now.
    public var parameters: Parameters<Array.Scalar> { Parameters(weights: weights, biases: biases) }
    /// Whether every array reads exactly (then batches may be evaluated concurrently).
    public var readsAreExact: Bool { arrays.allSatisfy(\.readsAreExact) }
    /// Per array, the state a checkpoint keeps beyond the weights.
    public var arrayState: [[String: [Float]]] { arrays.map(\.state) }
}

/// Models whose arrays can be written directly (ideal weights): BPTT training's gradient step.
public protocol DescendableModel: EPModel where Array: WritableArray {
    /// θ ← θ − lr·Σ_k w_k·∇θ_k over the chunks' BPTT results (w_k = chunk size / batch size).
    mutating func descend(_ results: [BPTTResult], weights: [Array.Scalar])
}
