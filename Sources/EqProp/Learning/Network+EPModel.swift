/// The fully connected models (P, EB, toy) as an `EPModel`: the transition of `Dynamics`, the
/// phases and update of `EquilibriumPropagation`, and `BPTT`.
extension Network: EPModel {
    /// The arrays are the network's `W`.
    public typealias Array = W
    /// The batch context of `Dynamics`: x, f(x), y, the cached input drive and the read clock.
    public typealias Context = BatchContext<W.Scalar>
    /// The result of `BPTT.run`: gradients, per-step partials and the final state.
    public typealias BPTTResult = BPTT.Result<W.Scalar>

    /// `Dynamics.context` of the batch, with the read clock and the optional noise on hidden
    /// pre-activations set.
    public func context(x: Matrix<T>, y: Matrix<T>, clock: ReadClock, neuronNoise: NeuronNoise? = nil) -> Context {
        var ctx = Dynamics.context(self, x: x, y: y)
        ctx.clock = clock
        ctx.neuronNoise = neuronNoise
        return ctx
    }

    /// T steps of `Dynamics` from the zero state.
    public func freePhase(_ ctx: Context) -> State<T> { Dynamics.freePhase(self, ctx) }

    /// `EquilibriumPropagation.phases`: the free and nudged phases of `spec.nudging`.
    public func phases(_ ctx: Context, sign: T) -> EquilibriumPropagation.Phases<T> {
        EquilibriumPropagation.phases(self, ctx, sign: sign)
    }

    /// Applies the chunks' updates one by one when there is one chunk or every array updates exactly;
    /// otherwise programs the joined batch's update once, at the first chunk's clock.
    public mutating func applyEP(
        _ parts: [(context: Context, phases: EquilibriumPropagation.Phases<T>)], batchSize: Int
    ) {
        if parts.count == 1 || arrays.allSatisfy(\.updatesAreExact) {
            // Exact updates are linear in the chunks: applied chunk by chunk.
            for p in parts {
                EquilibriumPropagation.apply(p.phases, to: &self, context: p.context, batchSize: batchSize)
            }
        } else {
            // Devices are programmed once per batch, with the whole batch's update (the update reads
            // only the joined inputs f(x), so no read of the arrays is made here).
            let c = parts.map(\.context)
            var whole = BatchContext(
                x: .stackingRows(c.map(\.x)), fx: .stackingRows(c.map(\.fx)), y: .stackingRows(c.map(\.y)),
                constantDrive: [], inputReadCached: false)
            whole.clock = c[0].clock
            EquilibriumPropagation.apply(.joined(parts.map(\.phases)), to: &self, context: whole)
        }
    }

    /// `BPTT.run` over the last `window` transitions of the free phase.
    public func bptt(_ ctx: Context, window: Int) -> BPTTResult { BPTT.run(self, ctx, window: window) }

    /// The final free-phase state s_T of the BPTT run.
    public static func finalState(_ r: BPTTResult) -> State<T> { r.final }

    /// −lr·∇θ of BPTT over the last K transitions, computed in Double on an ideal copy of the held
    /// weights.
    public func referenceStep(x: Matrix<Float>, y: Matrix<Float>) -> [[Double]] {
        let ideal = IdealNetwork<Double>(spec: spec, parameters: parameters.converted())
        let res = BPTT.run(ideal, Dynamics.context(ideal, x: x.converted(), y: y.converted()), window: spec.K)
        return res.total.weights.enumerated().map { ci, g in g.storage.map { -spec.learningRates[ci] * $0 } }
    }
}

extension Network: DescendableModel where W: WritableArray {
    /// Plain SGD: θ ← θ − lr·∇θ, per-layer rates; the bias of layer l uses the rate of W_{l−1,l}.
    public mutating func descend(_ results: [BPTTResult], weights w: [T]) {
        var total = results[0].total
        total.scale(w[0])
        for k in 1..<results.count { total.add(results[k].total, scale: w[k]) }
        for ci in arrays.indices {
            let lr = T(spec.learningRates[ci])
            Elementwise.axpy(-lr, total.weights[ci], &arrays[ci].weights)
        }
        for l in biases.indices {
            let lr = T(spec.learningRates[l])
            for j in biases[l].indices { biases[l][j] -= lr * total.biases[l][j] }
        }
    }
}

extension Network where W == CrossbarArray {
    /// The BPTT step on crossbars: ΔW = −lr·Σ_k w_k·∇W_k programmed as pulses with the device's
    /// update scheme (a dense ΔW is the outer product Iᵀ·ΔW, so a pulse-train device programs it row
    /// by row; on the `ideal` device this equals the software step up to float rounding); the
    /// biases, held digitally, take the step exactly.
    public mutating func program(_ results: [BPTTResult], weights w: [T], clock: ReadClock) {
        var total = results[0].total
        total.scale(w[0])
        for k in 1..<results.count { total.add(results[k].total, scale: w[k]) }
        for ci in arrays.indices {
            let g = total.weights[ci]
            var eye = Matrix<Float>(rows: g.rows, cols: g.rows)
            for i in 0..<g.rows { eye[i, i] = 1 }
            arrays[ci].update(post: eye, pre: g, scale: -Float(spec.learningRates[ci]), clock: clock)
        }
        for l in biases.indices {
            let lr = T(spec.learningRates[l])
            for j in biases[l].indices { biases[l][j] -= lr * total.biases[l][j] }
        }
    }
}
