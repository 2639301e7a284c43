/// Exact gradients by backpropagation through time, with the hand-written adjoint of the transition
/// in `Dynamics.step` (spec ep.md §3). Loss L = (1/2B)Σ‖s_L(T) − y‖² on the free phase.
///
/// Per-step partials follow the seed's indexing: `∇S(t) = ∂L/∂s_{T−t}` and `∇W(t) = ∂L/∂θ_{T−t}`,
/// where θ_{T−t} is the parameter copy used by the transition s_{T−t−1} → s_{T−t}; t = 0 is the last step.
public enum BPTT {
    /// Gradients ∂L/∂θ of every weight matrix and bias, shaped like the network's parameters.
    public struct Gradients<T: EPScalar>: Sendable {
        /// One gradient per weight matrix (out × in), in connection order.
        public var weights: [Matrix<T>]
        /// One gradient per bias vector, layers 1…L.
        public var biases: [[T]]
        static func zero<W: SynapticArray>(like net: Network<W>) -> Gradients<W.Scalar> {
            Gradients<W.Scalar>(
                weights: net.arrays.map { Matrix(rows: $0.outputs, cols: $0.inputs) },
                biases: net.biases.map { [W.Scalar](repeating: 0, count: $0.count) })
        }
        /// Adds `scale` times gradients of the same shapes.
        public mutating func add(_ o: Gradients, scale: T = 1) {
            for i in weights.indices { Elementwise.axpy(scale, o.weights[i], &weights[i]) }
            for i in biases.indices { for j in biases[i].indices { biases[i][j] += scale * o.biases[i][j] } }
        }
        /// Multiplies every gradient by `a`.
        public mutating func scale(_ a: T) {
            for i in weights.indices {
                weights[i].storage.withUnsafeMutableBufferPointer { p in for j in p.indices { p[j] *= a } }
            }
            for i in biases.indices { for j in biases[i].indices { biases[i][j] *= a } }
        }
    }

    /// One BPTT run: total and per-step parameter gradients, neuron partials, and the final state.
    public struct Result<T: EPScalar> {
        /// Σ over the back-propagated transitions of the per-step parameter gradients.
        public var total: Gradients<T>
        /// `perStep[t]` = ∇θ(t), for t = 0 ..< recorded steps.
        public var perStep: [Gradients<T>]
        /// `neurons[t]` = ∇S(t) = ∂L/∂s_{T−t} (per example, B × n_l per layer).
        public var neurons: [State<T>]
        /// The free-phase final state s_T and the loss there.
        public var final: State<T>
        /// The loss L = (1/2B)Σ‖s_L(T) − y‖² at the final state.
        public var loss: T
    }

    /// Back-propagates through the last `window` transitions (nil = all T; the seed's truncated
    /// training baseline uses K + 1) and records `record` per-step partials.
    public static func run<W: SynapticArray>(
        _ net: Network<W>, _ ctx: BatchContext<W.Scalar>, steps T: Int? = nil,
        window: Int? = nil, record: Int = 0
    ) -> Result<W.Scalar> {
        typealias Sc = W.Scalar
        let T = T ?? net.spec.T
        let w = min(window ?? T, T)
        // Forward: run the first T − w steps without storing, then keep s_{T−w} … s_T.
        var s = Dynamics.run(net, ctx, from: Dynamics.zeroState(net, batch: ctx.batchSize), steps: T - w)
        var traj: [State<Sc>] = [s]
        traj.reserveCapacity(w + 1)
        for _ in 0..<w { s = Dynamics.step(net, ctx, s); traj.append(s) }
        let final = s
        let loss = Dynamics.loss(final, target: ctx.y)

        // λ_T = ∂L/∂s_T: (s_L − y)/B on the output, zero elsewhere.
        var lambda: State<Sc> = final.map { Matrix(rows: $0.rows, cols: $0.cols) }
        let B = Sc(ctx.batchSize)
        for i in 0..<final.last!.count {
            lambda[net.depth - 1].storage[i] = (final.last!.storage[i] - ctx.y.storage[i]) / B
        }
        var total = Gradients<Sc>.zero(like: net)
        var perStep: [Gradients<Sc>] = []
        var neurons: [State<Sc>] = []
        // The input is constant, so Σ_t δ_tᵀ·f(x) = (Σ_t δ_t)ᵀ·f(x): for steps whose partials are not
        // recorded, input-weight gradients are formed once from the summed δ (saves a gemm per step).
        var deltaSum: [Matrix<Sc>] = final.map { Matrix(rows: $0.rows, cols: $0.cols) }
        for t in 0..<w {
            let recordThis = t < record
            if recordThis { neurons.append(lambda) }
            let prev: State<Sc>, delta: [Matrix<Sc>]
            if recordThis {
                var g = Gradients<Sc>.zero(like: net)
                (prev, delta) = adjoint(
                    net, ctx, state: traj[w - 1 - t], lambdaNext: lambda, into: &g, inputWeightGradients: true)
                total.add(g)
                perStep.append(g)
            } else {
                (prev, delta) = adjoint(
                    net, ctx, state: traj[w - 1 - t], lambdaNext: lambda, into: &total, inputWeightGradients: false)
                for l in delta.indices { Elementwise.axpy(1, delta[l], &deltaSum[l]) }
            }
            lambda = prev
        }
        if record > w { neurons.append(lambda) }  // ∂L/∂s_{T−w} when asked one step beyond
        for (ci, c) in net.connections.enumerated() where c.from == 0 {
            gemm(deltaSum[c.to - 1], transposeA: true, ctx.fx, into: &total.weights[ci], beta: 1)
        }
        return Result(total: total, perStep: perStep, neurons: neurons, final: final, loss: loss)
    }

    /// Adjoint of one free-phase transition s → s' = F(s): given λ' = ∂L/∂s', returns ∂L/∂s and the
    /// gradient of this step's parameter copy (input-weight
    /// gradients omitted unless `inputWeightGradients`), and δ = ∂L/∂h per layer.
    ///
    /// With z_l the pre-clamp value and μ_l = λ'_l ⊙ 1[0<z_l<1] (μ = λ' without clamping):
    /// ∂L/∂s_l = (1−dt)μ_l [+ dt·μ_l⊙g′(s_l)⊙h_l for EB] + Σ back-reads of δ; δ_l = ∂L/∂h_l is
    /// dt·μ_l⊙σ′(h_l) for P and dt·μ_l⊙g(s_l) for EB (g = ρ′, or 1 on the seed's linear output).
    /// For a connection a→b: ∂L/∂W += δ_bᵀf(s_a) + f(s_b)ᵀδ_a; the reads give λ_a += (δ_b·W)⊙f′(s_a)
    /// and λ_b += (δ_a·Wᵀ)⊙f′(s_b).
    public static func adjoint<W: SynapticArray>(
        _ net: Network<W>, _ ctx: BatchContext<W.Scalar>, state s: State<W.Scalar>, lambdaNext: State<W.Scalar>,
        into grads: inout Gradients<W.Scalar>, inputWeightGradients: Bool = true
    ) -> (State<W.Scalar>, [Matrix<W.Scalar>]) {
        typealias Sc = W.Scalar
        let spec = net.spec
        let act = spec.activation
        let dt = Sc(spec.dt), L = net.depth
        let isEB = spec.kind == .energyBased
        let fs = Dynamics.activity(net, s)
        let h = Dynamics.drives(net, ctx, activity: fs)
        // P needs σ(h) (for σ′ and the clamp test): one vectorized pass.
        let sigmaH: [Matrix<Sc>] = isEB ? [] : h.map { act.applied($0) }
        var lambda: State<Sc> = s.map { Matrix(rows: $0.rows, cols: $0.cols) }
        var delta: [Matrix<Sc>] = h.map { Matrix(rows: $0.rows, cols: $0.cols) }
        for l in 1...L {
            let prime = isEB && Dynamics.hasPrimeFactor(spec, layer: l)
            let n = s[l - 1].count
            s[l - 1].storage.withUnsafeBufferPointer { ps in
                h[l - 1].storage.withUnsafeBufferPointer { ph in
                    lambdaNext[l - 1].storage.withUnsafeBufferPointer { pl in
                        // ρ(s) for EB, σ(h) for P
                        (isEB ? fs[l - 1] : sigmaH[l - 1]).storage.withUnsafeBufferPointer { pv in
                            lambda[l - 1].storage.withUnsafeMutableBufferPointer { pLam in
                                delta[l - 1].storage.withUnsafeMutableBufferPointer { pDel in
                                    for i in 0..<n {
                                        var mu = pl[i]
                                        if spec.clamp {
                                            let z: Sc
                                            if isEB {
                                                z =
                                                    ps[i] + dt
                                                    * ((prime ? act.derivative(fromValue: pv[i]) : 1) * ph[i] - ps[i])
                                            } else {
                                                z = ps[i] + dt * (pv[i] - ps[i])
                                            }
                                            if !(z > 0 && z < 1) { mu = 0 }
                                        }
                                        var lam = (1 - dt) * mu
                                        let d: Sc
                                        if isEB {
                                            if prime {
                                                d = dt * mu * act.derivative(fromValue: pv[i])
                                                lam += dt * mu * act.secondDerivative(fromValue: pv[i]) * ph[i]
                                            } else {
                                                d = dt * mu
                                            }
                                        } else {
                                            d = dt * mu * act.derivative(fromValue: pv[i])
                                        }
                                        pLam[i] = lam
                                        pDel[i] = d
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for (ci, c) in net.connections.enumerated() {
            let W = net.arrays[ci].weights
            let fa = c.from == 0 ? ctx.fx : fs[c.from - 1]
            if c.from != 0 || inputWeightGradients {
                gemm(delta[c.to - 1], transposeA: true, fa, into: &grads.weights[ci], beta: 1)
            }
            if c.from != 0 {
                gemm(fs[c.to - 1], transposeA: true, delta[c.from - 1], into: &grads.weights[ci], beta: 1)
                // λ_a += (δ_b·W) ⊙ f′(s_a);  λ_b += (δ_a·Wᵀ) ⊙ f′(s_b)
                var ta = Matrix<Sc>(rows: ctx.batchSize, cols: W.cols)
                gemm(delta[c.to - 1], W, into: &ta)
                var tb = Matrix<Sc>(rows: ctx.batchSize, cols: W.rows)
                gemm(delta[c.from - 1], W, transposeB: true, into: &tb)
                accumulate(&lambda[c.from - 1], ta, primeOfValue: isEB ? fs[c.from - 1] : nil, act)
                accumulate(&lambda[c.to - 1], tb, primeOfValue: isEB ? fs[c.to - 1] : nil, act)
            }
        }
        for l in 1...L {
            let b = delta[l - 1].columnSums()
            for j in b.indices { grads.biases[l - 1][j] += b[j] }
        }
        return (lambda, delta)
    }

    @inline(__always)
    private static func accumulate<T: EPScalar>(
        _ target: inout Matrix<T>, _ v: Matrix<T>, primeOfValue f: Matrix<T>?, _ act: Activation
    ) {
        if let f {
            for i in 0..<v.count { target.storage[i] += v.storage[i] * act.derivative(fromValue: f.storage[i]) }
        } else {
            Elementwise.axpy(1, v, &target)
        }
    }
}
