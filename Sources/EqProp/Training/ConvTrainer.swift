import Foundation

/// Trains a P-conv network with EP (one-sided, random-sign or symmetric nudging) or truncated BPTT
/// (window K, as the seed's conv code), plain SGD with per-layer rates. Each mini-batch is split
/// into `options.chunks` fixed chunks whose phases run concurrently; results depend on the chunk
/// count, never on the core count.
public struct ConvTrainer: EpochTrainer {
    public var net: ConvNet<Float>
    public let options: TrainingOptions
    public let train: LabeledImages
    public let test: LabeledImages

    public var trainCount: Int { train.count }
    public var parameters: Parameters<Float> { net.parameters }

    public init(net: ConvNet<Float>, options: TrainingOptions, data: DataSet) throws {
        let g = net.geometry
        guard data.train.features == g.image * g.image * g.channels[0] else {
            throw InputError("model '\(net.spec.name)' expects \(g.channels[0])×\(g.image)×\(g.image) images but data set '\(data.name)' has \(data.train.rows)×\(data.train.cols)")
        }
        guard data.train.classes == g.classes else {
            throw InputError("model '\(net.spec.name)' has \(g.classes) outputs but data set '\(data.name)' has \(data.train.classes) classes")
        }
        if options.device != nil { throw InputError("P-conv on a crossbar is not supported yet; drop --device") }
        self.net = net; self.options = options
        (self.train, self.test) = try TrainingData.split(data, options)
    }

    public mutating func trainEpoch(_ epoch: Int, epochs: Int = 0, progress: ((Progress) -> Void)? = nil,
                                    probe: ((ProbeRecord) -> Void)? = nil) -> Double {
        let spec = net.spec
        let batcher = Batcher(train, batchSize: spec.batchSize)
        let order = batcher.order(epoch: epoch, seed: options.seed)
        var signs = RandomStream(seed: options.seed, stream: "beta-sign/\(epoch)")
        var meter = EpochMeter(epoch: epoch, epochs: epochs)
        for b in 0..<batcher.batchCount {
            let idx = order[(b * spec.batchSize)..<min((b + 1) * spec.batchSize, order.count)]
            let labels = idx.map { train.labels[$0] }
            let parts = chunkRanges(idx.count, parts: options.chunks).map { r in idx[(idx.startIndex + r.lowerBound)..<(idx.startIndex + r.upperBound)] }
            let B = idx.count
            let current = net
            var preds: [Int] = []
            switch options.algorithm {
            case .ep:
                let sign: Float = spec.nudging == .randomSign ? (signs.next() & 1 == 0 ? 1 : -1) : 1
                let beta = Float(spec.beta) * sign
                let symmetric = spec.nudging == .symmetric
                let results = parallelMap(parts.count) { k in
                    let (x, y, _) = batcher.batch(parts[k], as: Float.self)
                    let ctx = current.context(x: x, y: y)
                    let free = current.freePhase(ctx)
                    let plus = current.run(ctx, from: free, steps: spec.K, nudge: beta)
                    let minus = symmetric ? current.run(ctx, from: free, steps: spec.K, nudge: -beta) : free
                    let u = current.epUpdate(plus: plus, minus: minus, ctx, divisor: symmetric ? 2 * beta : beta, batchSize: B)
                    return (ConvNet<Float>.predictions(free), u)
                }
                for (p, u) in results {
                    preds += p
                    net.apply(weights: u.weights, biases: u.biases)
                }
            case .bptt:
                let window = options.bpttWindow ?? spec.K
                let results = parallelMap(parts.count) { k in
                    let (x, y, _) = batcher.batch(parts[k], as: Float.self)
                    return current.bptt(current.context(x: x, y: y), window: window)
                }
                for (k, r) in results.enumerated() {
                    preds += ConvNet<Float>.predictions(r.final)
                    // Chunk gradients are of chunk means: weight them by chunk size / batch size.
                    net.apply(weights: r.weights, biases: r.biases, scale: -Float(parts[k].count) / Float(B))
                }
            }
            meter.record(predictions: preds, labels: labels, batch: b, of: batcher.batchCount, progress: progress)
        }
        return meter.errorPercent
    }

    public func evaluate(_ data: LabeledImages? = nil) -> Double {
        let current = net
        return TrainingData.testError(data ?? test, batchSize: options.evalBatchSize, concurrent: true) { x, y in
            ConvNet<Float>.predictions(current.freePhase(current.context(x: x, y: y)))
        }
    }
}
