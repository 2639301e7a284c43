/// P-conv as an `EPModel`: phases with the nudging variants, the EP update as local outer products on
/// the arrays, BPTT on the held weights.
extension ConvNet: EPModel {
    /// The arrays are the network's `W`.
    public typealias Array = W
    /// P-conv's BPTT gradients, with the final state and the loss.
    public typealias BPTTResult = Gradients

    /// The free phase, a phase gap, then K steps nudged at sign·β (and K more at −sign·β when
    /// `symmetric`); divisor sign·β, or 2·sign·β when symmetric.
    public func phases(_ ctx: Context, sign: T) -> EquilibriumPropagation.Phases<T> {
        let beta = T(spec.beta) * sign
        let free = freePhase(ctx)
        ctx.clock.gap()
        let symmetric = spec.nudging == .symmetric
        let plus = run(ctx, from: free, steps: spec.K, nudge: beta)
        let minus = symmetric ? run(ctx, from: free, steps: spec.K, nudge: -beta) : free
        return EquilibriumPropagation.Phases(
            free: free, positive: plus, negative: minus, divisor: symmetric ? 2 * beta : beta)
    }

    /// Forms every chunk's activities before any update, then applies them chunk by chunk when updates
    /// are exact, else as one programming pass per array and batch.
    public mutating func applyEP(
        _ parts: [(context: Context, phases: EquilibriumPropagation.Phases<T>)], batchSize: Int
    ) {
        // Every chunk's activities first: the pooling indices come from reads of the weights the
        // phases ran on, before any chunk's update changes them.
        let divisor = parts[0].phases.divisor
        let chunks = parts.map { p in
            (
                plus: activities(p.phases.positive, p.context), minus: activities(p.phases.negative, p.context),
                input: p.context.xCols
            )
        }
        if parts.count == 1 || arrays.allSatisfy(\.updatesAreExact) {
            // Exact updates are linear in the chunks: applied chunk by chunk.
            for c in chunks { apply([c], divisor: divisor, batchSize: batchSize, clock: parts[0].context.clock) }
        } else {
            // one programming pass per array and batch
            apply(chunks, divisor: divisor, batchSize: batchSize, clock: parts[0].context.clock)
        }
    }

    typealias Activities = (terms: [(post: Matrix<T>, pre: Matrix<T>)], biases: [[T]])

    /// θ += lr·[∂Φ/∂θ(s⁺) − ∂Φ/∂θ(s⁻)]/(divisor·B), the weights as each array's local update with the
    /// chunks' activities stacked in rows (one batch); the first conv layer's input is the same in
    /// both phases, so its update is one pass of the difference of the unpooled maps.
    mutating func apply(
        _ chunks: [(plus: Activities, minus: Activities, input: Matrix<T>)], divisor: T, batchSize: Int,
        clock: ReadClock
    ) {
        let B = T(batchSize)
        func stack(_ v: [Matrix<T>]) -> Matrix<T> { v.count == 1 ? v[0] : .stackingRows(v) }
        for i in arrays.indices {
            let scale = T(spec.learningRates[i]) / (divisor * B)
            if scale == 0 { continue }
            let postP = stack(chunks.map { $0.plus.terms[i].post }),
                postM = stack(chunks.map { $0.minus.terms[i].post })
            if i == 0 {
                arrays[0].update(
                    post: Elementwise.difference(postP, postM), pre: stack(chunks.map(\.input)), scale: scale,
                    clock: clock)
            } else {
                arrays[i].updateContrastive(
                    plus: (postP, stack(chunks.map { $0.plus.terms[i].pre })),
                    minus: (postM, stack(chunks.map { $0.minus.terms[i].pre })), scale: scale, clock: clock)
            }
        }
        let inv = 1 / (divisor * B)
        for c in chunks {
            for i in biases.indices {
                let lr = T(spec.learningRates[i])
                for j in biases[i].indices { biases[i][j] += lr * ((c.plus.biases[i][j] - c.minus.biases[i][j]) * inv) }
            }
        }
    }

    /// BPTT over the last `window` transitions of the free phase, without per-step partials.
    public func bptt(_ ctx: Context, window: Int) -> Gradients { bptt(ctx, window: window, record: 0) }

    /// The final free-phase state s_T of the BPTT run.
    public static func finalState(_ r: Gradients) -> State { r.final }

    /// −lr·∇θ of BPTT over the last K transitions, computed in Double on an ideal copy of the held
    /// weights.
    public func referenceStep(x: Matrix<Float>, y: Matrix<Float>) -> [[Double]] {
        let ideal = IdealConvNet<Double>(spec: spec, parameters: parameters.converted())
        let g = ideal.bptt(ideal.context(x: x.converted(), y: y.converted()), window: spec.K)
        return g.weights.enumerated().map { i, w in w.storage.map { -spec.learningRates[i] * $0 } }
    }
}

/// P-conv on ideal weights: the software reference engine.
public typealias IdealConvNet<T: EPScalar> = ConvNet<DenseArray<T>>

extension ConvNet where W: WritableArray {
    /// A network whose arrays are built directly from weight matrices.
    public init(spec: NetworkSpec, parameters p: Parameters<T>) {
        self.init(spec: spec, arrays: p.weights.map { W($0) }, biases: p.biases)
    }

    /// Plain SGD ascent along an update (or descent along a gradient with negative `scale`).
    public mutating func apply(weights dw: [Matrix<T>], biases db: [[T]], scale: T = 1) {
        for i in arrays.indices {
            let lr = T(spec.learningRates[i]) * scale
            Elementwise.axpy(lr, dw[i], &arrays[i].weights)
            for j in biases[i].indices { biases[i][j] += lr * db[i][j] }
        }
    }
}

extension ConvNet: DescendableModel where W: WritableArray {
    /// Plain SGD, θ ← θ − lr·Σ_k w_k·∇θ_k over the chunks' gradients, with per-layer rates.
    public mutating func descend(_ results: [Gradients], weights w: [T]) {
        for (r, wk) in zip(results, w) { apply(weights: r.weights, biases: r.biases, scale: -wk) }
    }
}
