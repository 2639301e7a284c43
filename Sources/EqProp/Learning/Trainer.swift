import Foundation

/// Progress of a running epoch, for terminal display.
public struct Progress: Sendable {
    /// Epoch (from 1) of `epochs`, and batch (from 1) of `batches`.
    public var epoch: Int, epochs: Int, batch: Int, batches: Int
    /// Running train error of the epoch so far (%).
    public var trainError: Double
    /// Training examples per second since the epoch started.
    public var samplesPerSecond: Double
    /// Wall time since the epoch started (s).
    public var elapsed: Double
}

/// The running train error of an epoch and its progress reports (at most one per second).
struct EpochMeter {
    let epoch: Int, epochs: Int
    var wrong = 0, seen = 0
    let start = Date()
    var lastReport = Date()
    init(epoch: Int, epochs: Int) { self.epoch = epoch; self.epochs = epochs }

    var errorPercent: Double { 100 * Double(wrong) / Double(max(seen, 1)) }

    mutating func record(
        predictions: [Int], labels: [Int], batch b: Int, of batches: Int, progress: ((Progress) -> Void)?
    ) {
        wrong += zip(predictions, labels).filter { $0 != $1 }.count
        seen += labels.count
        guard let progress else { return }
        let now = Date()
        if now.timeIntervalSince(lastReport) >= 1 || b == batches - 1 {
            lastReport = now
            let el = now.timeIntervalSince(start)
            progress(
                Progress(
                    epoch: epoch + 1, epochs: epochs, batch: b + 1, batches: batches,
                    trainError: errorPercent, samplesPerSecond: Double(seen) / max(el, 1e-9), elapsed: el))
        }
    }
}

/// What training does with the data: the shape check, the subsets and the test error.
enum TrainingData {
    /// Throws unless the data's images and classes fit the model's input and output.
    static func check(_ spec: NetworkSpec, fits data: DataSet) throws {
        // An empty set would report 0 % error: a result that is not one.
        guard data.train.count > 0 else { throw InputError("data set '\(data.name)' has no training examples") }
        guard data.test.count > 0 else { throw InputError("data set '\(data.name)' has no test examples") }
        if let g = spec.convGeometry {
            guard data.train.features == g.image * g.image * g.channels[0] else {
                throw InputError(
                    "model '\(spec.name)' expects \(g.channels[0])×\(g.image)×\(g.image) images but data set "
                        + "'\(data.name)' has \(data.train.rows)×\(data.train.cols)"
                )
            }
            guard data.train.classes == g.classes else {
                throw InputError(
                    "model '\(spec.name)' has \(g.classes) outputs but data set '\(data.name)' has "
                        + "\(data.train.classes) classes"
                )
            }
            return
        }
        guard data.train.features == spec.layers[0] else {
            throw InputError(
                "model '\(spec.name)' expects \(spec.layers[0]) inputs but data set '\(data.name)' has "
                    + "\(data.train.features) features (\(data.train.rows)×\(data.train.cols)); set the first entry "
                    + "of 'layers' to \(data.train.features)"
            )
        }
        guard data.train.classes == spec.layers.last! else {
            throw InputError(
                "model '\(spec.name)' has \(spec.layers.last!) outputs but data set '\(data.name)' has "
                    + "\(data.train.classes) classes; set the last entry of 'layers' to \(data.train.classes)"
            )
        }
    }

    /// The training set (a seeded `trainSubset`-example subset, stream "subset") and the test set
    /// (its first `testSubset` examples).
    static func split(_ data: DataSet, _ options: TrainingOptions) throws -> (LabeledImages, LabeledImages) {
        var tr = data.train
        if let n = options.trainSubset {
            guard n >= 1 && n <= tr.count else { throw InputError("train subset must be in 1…\(tr.count) (got \(n))") }
            var rng = RandomStream(seed: options.seed, stream: "subset")
            tr = tr.subset(Array(rng.permutation(tr.count).prefix(n)))
        }
        var te = data.test
        if let n = options.testSubset {
            guard n >= 1 && n <= te.count else { throw InputError("test subset must be in 1…\(te.count) (got \(n))") }
            te = te.subset(Array(0..<n))
        }
        return (tr, te)
    }

    /// Test error (%) of `predict` over `data` in fixed, unshuffled batches, concurrently if allowed.
    static func testError(
        _ d: LabeledImages, batchSize bs: Int, concurrent: Bool,
        predict: (Matrix<Float>, Matrix<Float>) -> [Int]
    ) -> Double {
        let batcher = Batcher(d, batchSize: bs)
        let order = batcher.order(epoch: 0, seed: 0, shuffle: false)
        func errors(_ b: Int) -> Int {
            let idx = order[(b * bs)..<min((b + 1) * bs, order.count)]
            let (x, y, labels) = batcher.batch(idx, as: Float.self)
            return zip(predict(x, y), labels).filter { $0 != $1 }.count
        }
        let wrong =
            concurrent
            ? parallelMap(batcher.batchCount, errors).reduce(0, +) : (0..<batcher.batchCount).map(errors).reduce(0, +)
        return 100 * Double(wrong) / Double(max(d.count, 1))
    }
}

/// Wall time spent in the two parts of a training step, summed over a trainer's `trainEpoch` calls: the
/// phases (relaxation of every chunk, or BPTT's forward and backward passes) and the update
/// (gradient step, or device programming on crossbars). For `xbar bench`'s breakdown.
public struct TrainerTiming: Sendable {
    /// Seconds spent in the phases and in the update (s).
    public var phasesSeconds = 0.0, updateSeconds = 0.0
    /// Training examples the times are summed over.
    public var samples = 0
    /// No time yet.
    public init() {}
}

/// What a training run needs from a trainer: epochs, evaluation and the parameters to checkpoint.
public protocol EpochTrainer {
    /// Trains one epoch (0-based index) and returns the running train error in percent.
    mutating func trainEpoch(
        _ epoch: Int, epochs: Int, progress: ((Progress) -> Void)?, probe: ((ProbeRecord) -> Void)?
    ) -> Double
    /// Test error (%) on `data` (nil: the trainer's test set).
    func evaluate(_ data: LabeledImages?) -> Double
    var trainCount: Int { get }
    var parameters: Parameters<Float> { get }
    /// Per weight matrix, the array state a checkpoint keeps beyond the weights (empty when ideal).
    var arrayState: [[String: [Float]]] { get }
}

/// SGD training of any `EPModel` (fully connected or P-conv, on ideal weights or crossbars) with EP
/// or truncated BPTT. Each mini-batch is split into `options.chunks` fixed chunks whose phases run
/// concurrently, each reading the arrays through its own read lane; results depend on the chunk
/// count, never on the core count. The trainer uses the arrays only through the model.
public struct Trainer<M: EPModel>: EpochTrainer where M.Array.Scalar == Float {
    /// The model being trained; its arrays hold the weights.
    public var net: M
    /// The options of the run.
    public let options: TrainingOptions
    /// The training set (a seeded subset if `options.trainSubset` is set).
    public let train: LabeledImages
    /// The test set (its first `options.testSubset` examples if set).
    public let test: LabeledImages
    /// How BPTT gradients reach the weights: written directly (ideal arrays) or programmed as pulses
    /// (fully connected crossbars), at the clock's epoch.
    let applyGradients: ((inout M, [M.BPTTResult], [Float], ReadClock) -> Void)?

    /// Number of training examples.
    public var trainCount: Int { train.count }
    /// Weights and biases as the arrays hold them now.
    public var parameters: Parameters<Float> { net.parameters }
    /// Per weight matrix, the device state a checkpoint keeps (empty on ideal weights).
    public var arrayState: [[String: [Float]]] { net.arrayState }

    /// Wall time so far; assign `TrainerTiming()` to start a new measurement.
    public var timing = TrainerTiming()
    /// Simulated time of the arrays' reads: lane 0's clock of the current epoch (nil before the first).
    var clock: ReadClock?
    /// Hardware work of the last `trainEpoch` over all arrays (reads, pulses, devices pulsed,
    /// accumulator operations); nil on software weights, which do no hardware work.
    public private(set) var lastEpochCosts: ArrayCosts?

    /// An EP trainer on any arrays (BPTT needs writable ideal weights, `init(idealNet:…)`, or fully
    /// connected crossbars, `init(crossbarNet:…)`).
    public init(net: M, options: TrainingOptions, data: DataSet) throws {
        guard options.algorithm == .ep else {
            throw InputError("BPTT training needs ideal weights or a fully connected model on crossbars")
        }
        try self.init(net: net, options: options, data: data, applyGradients: nil)
    }

    init(
        net: M, options: TrainingOptions, data: DataSet,
        applyGradients: ((inout M, [M.BPTTResult], [Float], ReadClock) -> Void)?
    ) throws {
        try TrainingData.check(net.spec, fits: data)
        self.net = net; self.options = options; self.applyGradients = applyGradients
        (self.train, self.test) = try TrainingData.split(data, options)
        let batches = (train.count + net.spec.batchSize - 1) / net.spec.batchSize
        if options.probeEvery > 0 && options.probeWindow > batches {
            throw InputError(
                options:
                    "{probe_window} must be at most the \(batches) batches of an epoch (got \(options.probeWindow)): "
                    + "a longer window is never logged"
            )
        }
    }

    /// Trains one epoch (0-based index `epoch`) and returns the running train error in percent.
    public mutating func trainEpoch(
        _ epoch: Int, epochs: Int = 0, progress: ((Progress) -> Void)? = nil,
        probe onProbe: ((ProbeRecord) -> Void)? = nil
    ) -> Double {
        let spec = net.spec
        let batcher = Batcher(train, batchSize: spec.batchSize)
        let order = batcher.order(epoch: epoch, seed: options.seed)
        var signs = RandomStream(seed: options.seed, stream: "beta-sign/\(epoch)")
        // A new epoch: the arrays' streams are re-derived for it and simulated time starts at 0.
        var epochClock = ReadClock(lane: 0, epoch: epoch)
        let costsBefore = net.arrays.reduce(ArrayCosts()) { $0 + $1.costs }
        defer {
            clock = epochClock
            lastEpochCosts =
                net.arrays.allSatisfy(\.updatesAreExact)
                ? nil : net.arrays.reduce(ArrayCosts()) { $0 + $1.costs } - costsBefore
        }
        var meter = EpochMeter(epoch: epoch, epochs: epochs)
        var probe: (start: Int, before: [Matrix<Float>], reference: [[Double]], costs: ArrayCosts)?
        let hardware = !net.arrays.allSatisfy(\.updatesAreExact)
        for b in 0..<batcher.batchCount {
            let idx = order[(b * spec.batchSize)..<min((b + 1) * spec.batchSize, order.count)]
            let labels = idx.map { train.labels[$0] }
            let parts = chunkRanges(idx.count, parts: options.chunks).map { r in
                idx[(idx.startIndex + r.lowerBound)..<(idx.startIndex + r.upperBound)]
            }
            let B = idx.count
            var preds: [Int] = []
            let current = net
            // Fidelity probe: from every probed batch on, the exact step of each of the window's
            // batches on the weights held before its update, summed, against the change the arrays
            // made over the window. A window cut by the end of the epoch is dropped.
            if options.probeEvery > 0 && b % options.probeEvery == 0 && onProbe != nil
                && b + options.probeWindow <= batcher.batchCount
            {
                probe = (
                    start: b, before: net.weights, reference: [],
                    costs: hardware ? net.arrays.reduce(ArrayCosts()) { $0 + $1.costs } : ArrayCosts()
                )
            }
            if probe != nil {
                let (x, y, _) = batcher.batch(idx, as: Float.self)
                FidelityProbe.accumulate(net.referenceStep(x: x, y: y), into: &probe!.reference)
            }
            defer {
                if let p = probe, b == p.start + options.probeWindow - 1 {
                    let costs = hardware ? net.arrays.reduce(ArrayCosts()) { $0 + $1.costs } - p.costs : nil
                    onProbe?(
                        ProbeRecord(
                            epoch: epoch + 1, batch: p.start + 1, window: options.probeWindow,
                            layers: FidelityProbe.compare(
                                spec: spec, before: p.before, after: net.weights, reference: p.reference),
                            costs: costs))
                    probe = nil
                }
            }
            let tPhases = DispatchTime.now().uptimeNanoseconds
            var tUpdate = tPhases
            defer {
                let end = DispatchTime.now().uptimeNanoseconds
                timing.phasesSeconds += Double(tUpdate - tPhases) * 1e-9
                timing.updateSeconds += Double(end - tUpdate) * 1e-9
                timing.samples += B
            }
            switch options.algorithm {
            case .ep:
                let sign: Float = spec.nudging == .randomSign ? (signs.next() & 1 == 0 ? 1 : -1) : 1
                // Phases of every chunk on the same weights, concurrently, each read through its own
                // lane at the same simulated instants; then the update. Lane 0's clock goes on.
                let sigma = spec.neuronNoise, seed = options.seed
                let clocks = parts.indices.map { epochClock.atLane($0) }
                let results = parallelMap(parts.count) { k in
                    let (x, y, _) = batcher.batch(parts[k], as: Float.self)
                    let noise =
                        sigma > 0
                        ? NeuronNoise(
                            sigma: sigma, rng: RandomStream(seed: seed, stream: "neuron-noise/\(epoch)/\(b)/\(k)"))
                        : nil
                    let ctx = current.context(x: x, y: y, clock: clocks[k], neuronNoise: noise)
                    return (context: ctx, phases: current.phases(ctx, sign: sign))
                }
                epochClock = clocks[0]
                for r in results { preds += Dynamics.predictions(r.phases.free) }
                tUpdate = DispatchTime.now().uptimeNanoseconds
                net.applyEP(results, batchSize: B)
            case .bptt:
                let window = options.bpttWindow ?? (spec.kind == .convolutional ? spec.K : spec.K + 1)
                // On crossbars the relaxation's reads go through each chunk's own lane.
                let clocks = parts.indices.map { epochClock.atLane($0) }
                let results = parallelMap(parts.count) { k in
                    let (x, y, _) = batcher.batch(parts[k], as: Float.self)
                    return current.bptt(current.context(x: x, y: y, clock: clocks[k], neuronNoise: nil), window: window)
                }
                epochClock = clocks[0]
                for r in results { preds += Dynamics.predictions(M.finalState(r)) }
                tUpdate = DispatchTime.now().uptimeNanoseconds
                // Chunk gradients are of chunk means: weighted by chunk size / batch size.
                applyGradients!(&net, results, parts.map { Float($0.count) / Float(B) }, epochClock)
            }
            meter.record(predictions: preds, labels: labels, batch: b, of: batcher.batchCount, progress: progress)
        }
        return meter.errorPercent
    }

    /// Test error (%) after a free phase of T steps. Noisy arrays are read one batch at a time on
    /// lane 0, going on from the simulated time the training left (exact arrays concurrently).
    public func evaluate(_ data: LabeledImages? = nil) -> Double {
        let current = net
        let exact = net.readsAreExact
        let clock = (self.clock ?? ReadClock()).atLane(0)
        return TrainingData.testError(data ?? test, batchSize: options.evalBatchSize, concurrent: exact) { x, y in
            Dynamics.predictions(
                current.freePhase(current.context(x: x, y: y, clock: exact ? clock.atLane(0) : clock, neuronNoise: nil))
            )
        }
    }
}

extension Trainer where M: DescendableModel {
    /// A trainer on directly writable (ideal) arrays: supports both EP and BPTT.
    public init(idealNet net: M, options: TrainingOptions, data: DataSet) throws {
        try self.init(net: net, options: options, data: data) { net, results, weights, _ in
            net.descend(results, weights: weights)
        }
    }
}

extension Trainer where M == Network<CrossbarArray> {
    /// An EP or BPTT trainer of a fully connected network on crossbars. BPTT's forward relaxation
    /// reads the arrays through their read paths, as EP's phases do; its backward pass uses the
    /// weights the arrays hold, read exactly (an idealised backward pass, which favours BPTT), and its
    /// gradient step is programmed as pulses with the device's update scheme.
    public init(crossbarNet net: M, options: TrainingOptions, data: DataSet) throws {
        try self.init(net: net, options: options, data: data) { net, results, weights, clock in
            net.program(results, weights: weights, clock: clock)
        }
    }
}
