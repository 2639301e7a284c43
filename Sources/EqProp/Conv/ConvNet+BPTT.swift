/// P-conv's exact gradients: BPTT with hand-written adjoints (checked against central differences)
/// and the GDU check. Both run on the exact weights the arrays hold.
extension ConvNet {
    // MARK: BPTT

    /// Gradients of L = (1/2B)Σ‖s_o(T) − y‖² by backpropagation through the last `window` steps of
    /// the free phase, with per-step partials (t = 0 is the last step) for the last `record` steps.
    public struct Gradients: Sendable {
        /// ∂L/∂W per weight matrix: conv kernels W_1 … W_m, then the classifier W_o.
        public var weights: [Matrix<T>]
        /// ∂L/∂b per bias vector: b_1 … b_m, then b_o.
        public var biases: [[T]]
        /// ∂L/∂θ_{T−t} per step t < record (weights only).
        public var perStepWeights: [[Matrix<T>]]
        /// ∂L/∂s_{T−t} per step t < record, per state layer (summed over the batch).
        public var perStepNeurons: [[[T]]]
        /// The final free-phase state s_T.
        public var final: State
        /// The loss L = (1/2B)Σ‖s_o(T) − y‖² at the final state.
        public var loss: T
    }

    /// Backpropagates through the last `window` free-phase steps (nil = all T), recording per-step
    /// partials for the last `record` steps.
    public func bptt(_ ctx: Context, window: Int? = nil, record: Int = 0) -> Gradients {
        let T_ = spec.T
        let w = Swift.min(window ?? T_, T_)
        // Forward: states s_{T−w} … s_T (the first T − w steps keep no history).
        var s = run(ctx, from: zeroState(batch: ctx.batch), steps: T_ - w)
        var traj = [s]
        for _ in 0..<w { s = step(s, ctx); traj.append(s) }
        let final = s
        let B = T(ctx.batch)
        var lam = zeroState(batch: ctx.batch)
        var loss: T = 0
        for i in 0..<final[m].count {
            let d = final[m].storage[i] - ctx.y.storage[i]
            lam[m].storage[i] = d / B
            loss += d * d / (2 * B)
        }
        var gw = geometry.weightShapes.map { Matrix<T>(rows: $0.rows, cols: $0.cols) }
        var gb = biases.map { [T](repeating: 0, count: $0.count) }
        var perW: [[Matrix<T>]] = [], perS: [[[T]]] = []
        for t in 0..<w {
            if t < record { perS.append(lam.map { $0.columnSums() }) }
            let (lamPrev, stepW, stepB) = adjoint(traj[w - 1 - t], ctx, lam)
            for i in gw.indices {
                Elementwise.axpy(1, stepW[i], &gw[i])
                for j in gb[i].indices { gb[i][j] += stepB[i][j] }
            }
            if t < record { perW.append(stepW) }
            lam = lamPrev
        }
        return Gradients(weights: gw, biases: gb, perStepWeights: perW, perStepNeurons: perS, final: final, loss: loss)
    }

    /// The adjoint of one step from state s: given λ = ∂L/∂s' of the step's output, returns ∂L/∂s
    /// and the step's parameter gradients.
    func adjoint(_ s: State, _ ctx: Context, _ lam: State) -> (State, [Matrix<T>], [[T]]) {
        let (a, f) = preActivations(s, ctx)
        let g = geometry, batch = ctx.batch
        let weights = self.weights  // BPTT runs on the exact weights the arrays hold
        // δ = λ ⊙ σ′(a), σ′ = 1 on (0, 1) for the hard sigmoid.
        var delta = lam
        for l in 0...m {
            for i in 0..<delta[l].count where !(a[l].storage[i] > 0 && a[l].storage[i] < 1) { delta[l].storage[i] = 0 }
        }
        var out = zeroState(batch: batch)
        var gw = weights.map { Matrix<T>(rows: $0.rows, cols: $0.cols) }
        var gb: [[T]] = []
        // Output: a_o = s_m W_oᵀ + b_o.
        gemm(delta[m], weights[m], into: &out[m - 1], beta: 1)
        gemm(delta[m], transposeA: true, s[m - 1], into: &gw[m], beta: 1)
        // Last conv map's feedback W_oᵀ s_o.
        gemm(delta[m - 1], weights[m], transposeB: true, into: &out[m], beta: 1)
        gemm(s[m], transposeA: true, delta[m - 1], into: &gw[m], beta: 1)
        for l in 1...m {
            let o = g.convSide(l), c = g.channels[l]
            // Pooled conv term P(W_l ∗ in_l + b_l): through the selected positions.
            let ud = ConvOps.unpool(delta[l - 1], indices: f.idx[l - 1], unpooledCount: o * o * c).reshaped(
                rows: batch * o * o, cols: c)
            gemm(ud, transposeA: true, f.cols[l - 1], into: &gw[l - 1], beta: 1)
            gb.append(ConvOps.channelSums(delta[l - 1], channels: c))
            if l >= 2 {
                var cols = Matrix<T>(rows: batch * o * o, cols: weights[l - 1].cols)
                gemm(ud, weights[l - 1], into: &cols)
                Elementwise.axpy(
                    1,
                    ConvOps.col2im(
                        cols, batch: batch, side: g.side(l - 1), channels: g.channels[l - 1], kernel: g.kernel),
                    &out[l - 2])
            }
            // Feedback W_{l+1} ⊛ᵀ P⁻¹(s_{l+1}) into a_l (l < m): linear in s_{l+1} and in W_{l+1}.
            if l < m {
                let o2 = g.convSide(l + 1), c2 = g.channels[l + 1]
                let dCols = ConvOps.im2col(delta[l - 1], side: g.side(l), channels: c, kernel: g.kernel)
                var du = Matrix<T>(rows: batch * o2 * o2, cols: c2)
                gemm(dCols, weights[l], transposeB: true, into: &du)
                Elementwise.axpy(
                    1,
                    ConvOps.gather(
                        du.reshaped(rows: batch, cols: o2 * o2 * c2), indices: f.idx[l], pooledCount: g.units(l + 1)),
                    &out[l])
                let u = ConvOps.unpool(s[l], indices: f.idx[l], unpooledCount: o2 * o2 * c2).reshaped(
                    rows: batch * o2 * o2, cols: c2)
                gemm(u, transposeA: true, dCols, into: &gw[l], beta: 1)
            }
        }
        gb.append(delta[m].columnSums())
        return (out, gw, gb)
    }

    // MARK: GDU

    /// The GDU check on one batch: per-step EP updates of the nudged phase against the BPTT
    /// partials, per state layer (neurons, summed over the batch) and per weight.
    public func gdu(_ ctx: Context) -> GDU.Report {
        let K = spec.K
        let bp = bptt(ctx, window: spec.T, record: K)
        let sStar = bp.final
        let beta = T(spec.beta)
        let symmetric = spec.nudging == .symmetric
        let divisor = symmetric ? 2 * beta : beta
        func trajectory(_ b: T) -> [State] {
            var tr = [sStar]
            for _ in 0..<K { tr.append(step(tr.last!, ctx, nudge: b)) }
            return tr
        }
        let plus = trajectory(beta)
        let minus = symmetric ? trajectory(-beta) : [State](repeating: sStar, count: K + 1)
        let sPrev = run(ctx, from: zeroState(batch: ctx.batch), steps: spec.T - 1)
        var residual = 0.0
        for l in 0...m {
            for i in 0..<sStar[l].count {
                residual = Swift.max(residual, abs(Double(sStar[l].storage[i] - sPrev[l].storage[i])))
            }
        }
        let B = Double(ctx.batch)
        var layers: [GDU.LayerSeries] = []
        func series(_ name: String, _ kind: String, ep: [[Double]], ref: [[Double]]) -> GDU.LayerSeries {
            let rel: [Double?] = zip(ep, ref).map { e, r in
                let nr = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return nr == 0 ? nil : zip(e, r).reduce(0) { $0 + ($1.0 + $1.1) * ($1.0 + $1.1) }.squareRoot() / nr
            }
            let negRef = ref.map { $0.map { -$0 } }
            return GDU.LayerSeries(
                layer: name, kind: kind, ep: ep, bptt: negRef, agreement: Agreement(series: ep, reference: negRef),
                perStepRelativeError: rel, perStepNormEP: ep.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() })
        }
        for l in 0...m {
            var ep: [[Double]] = []
            for t in 0..<K {
                let dp = zip(plus[t + 1][l].storage, plus[t][l].storage).map { Double($0 - $1) }
                let dm = zip(minus[t + 1][l].storage, minus[t][l].storage).map { Double($0 - $1) }
                let n = geometry.units(l + 1)
                var v = [Double](repeating: 0, count: n)
                for i in 0..<dp.count { v[i % n] += (dp[i] - dm[i]) / (Double(divisor) * B) }
                ep.append(v)
            }
            layers.append(series("s\(l + 1)", "neurons", ep: ep, ref: bp.perStepNeurons.map { $0[l].map(Double.init) }))
        }
        let names = (1...m).map { "W\($0 - 1)\($0)" } + ["W\(m)\(m + 1)"]
        let phiPlus = plus.map { phiGradient($0, ctx).weights }, phiMinus = minus.map { phiGradient($0, ctx).weights }
        for i in 0...m {
            var ep: [[Double]] = []
            for t in 0..<K {
                let a = phiPlus[t + 1][i].storage, b = phiPlus[t][i].storage, c = phiMinus[t + 1][i].storage,
                    d = phiMinus[t][i].storage
                ep.append((0..<a.count).map { Double((a[$0] - b[$0]) - (c[$0] - d[$0])) / (Double(divisor) * B) })
            }
            layers.append(
                series(names[i], "weights", ep: ep, ref: bp.perStepWeights.map { $0[i].storage.map(Double.init) }))
        }
        return GDU.Report(layers: layers, loss: Double(bp.loss), freePhaseResidual: residual)
    }
}
