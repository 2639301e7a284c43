/// A trainer of any model on any arrays, behind one concrete type: what run orchestration (training
/// runs, sweeps, benchmarks, in another module) holds.
///
/// Why closures and not `any EpochTrainer`: Swift compiles a generic method once, unspecialized, for
/// calls through a protocol's witness table or from another module, and the unspecialized training
/// loop is 2–10× slower. The closures here are created where the model type is concrete — in
/// ``init(spec:parameters:arrayState:options:data:)``, inside this module — so each one calls the
/// loop compiled for that model and its arrays. A trainer of your own model wrapped with
/// ``init(_:)`` runs at the speed of calling its `Trainer` directly.
public struct AnyTrainer: EpochTrainer {
    private let train: (Int, Int, ((Progress) -> Void)?, ((ProbeRecord) -> Void)?) -> Double
    private let test: (LabeledImages?) -> Double
    // One closure per property: reading the costs must not copy the weights and device state.
    private let getParameters: () -> Parameters<Float>
    private let getArrayState: () -> [[String: [Float]]]
    private let getTiming: () -> TrainerTiming
    private let getCosts: () -> ArrayCosts?
    private let restart: () -> Void
    /// Number of training examples.
    public let trainCount: Int
    /// The crossbar arrays the network reads (empty on ideal weights), shared with it: what is done
    /// to them (`CrossbarArray.age`) the network sees.
    public private(set) var arrays: [CrossbarArray] = []

    /// Wraps `trainer` (it is moved into the wrapper; the wrapper's calls mutate it).
    public init<M: EPModel>(_ trainer: Trainer<M>) where M.Array.Scalar == Float {
        let box = TrainerBox(trainer)
        trainCount = trainer.trainCount
        train = { box.trainer.trainEpoch($0, epochs: $1, progress: $2, probe: $3) }
        test = { box.trainer.evaluate($0) }
        getParameters = { box.trainer.parameters }
        getArrayState = { box.trainer.arrayState }
        getTiming = { box.trainer.timing }
        getCosts = { box.trainer.lastEpochCosts }
        restart = { box.trainer.timing = TrainerTiming() }
    }

    /// The trainer of `spec` (fully connected or P-conv) from `parameters`, on ideal weights or on
    /// crossbars of `options.device` whose device state is restored from `arrayState` when given.
    /// BPTT on crossbars needs a fully connected model.
    public init(
        spec: NetworkSpec, parameters: Parameters<Float>, arrayState: [[String: [Float]]] = [],
        options: TrainingOptions, data: DataSet
    ) throws {
        try options.validate()
        let conv = spec.kind == .convolutional
        guard let d = options.device else {
            self =
                conv
                ? AnyTrainer(
                    try Trainer(
                        idealNet: IdealConvNet<Float>(spec: spec, parameters: parameters), options: options, data: data)
                )
                : AnyTrainer(
                    try Trainer(
                        idealNet: IdealNetwork<Float>(spec: spec, parameters: parameters), options: options, data: data)
                )
            return
        }
        try d.checkArrays(parameters.weights.map { ($0.rows, $0.cols) })
        let arrays = CrossbarArray.arrays(for: parameters, device: d, seed: options.seed)
        for (ci, st) in arrayState.enumerated() where ci < arrays.count { try arrays[ci].restore(st) }
        if conv && options.algorithm == .bptt {
            throw InputError(
                options:
                    "{algorithm} bptt on crossbars needs a fully connected model (P-conv trains with EP on crossbars)")
        }
        self =
            conv
            ? AnyTrainer(
                try Trainer(
                    net: ConvNet(spec: spec, arrays: arrays, biases: parameters.biases), options: options, data: data))
            : AnyTrainer(
                try Trainer(
                    crossbarNet: Network(spec: spec, arrays: arrays, biases: parameters.biases), options: options,
                    data: data))
        self.arrays = arrays
    }

    /// Trains one epoch (0-based index `epoch`) and returns the running train error in percent.
    public mutating func trainEpoch(
        _ epoch: Int, epochs: Int = 0, progress: ((Progress) -> Void)? = nil,
        probe: ((ProbeRecord) -> Void)? = nil
    ) -> Double {
        train(epoch, epochs, progress, probe)
    }

    /// Test error (%) on `data` (nil: the trainer's test set).
    public func evaluate(_ data: LabeledImages? = nil) -> Double { test(data) }

    /// Weights and biases as the arrays hold them now.
    public var parameters: Parameters<Float> { getParameters() }
    /// Per weight matrix, the device state a checkpoint keeps (empty on ideal weights).
    public var arrayState: [[String: [Float]]] { getArrayState() }
    /// Hardware work of the last `trainEpoch` (nil on software weights).
    public var lastEpochCosts: ArrayCosts? { getCosts() }
    /// Wall time of the phases and the update since the trainer was made or `restartTiming()`.
    public var timing: TrainerTiming { getTiming() }
    /// Starts a new wall-time measurement.
    public func restartTiming() { restart() }
}

/// The trainer an `AnyTrainer`'s closures share and mutate.
private final class TrainerBox<M: EPModel> where M.Array.Scalar == Float {
    var trainer: Trainer<M>
    init(_ trainer: Trainer<M>) { self.trainer = trainer }
}
