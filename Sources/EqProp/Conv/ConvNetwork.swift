/// The seed's prototypical convolutional network (P-conv), its EP updates and exact BPTT.
///
/// States: conv maps s_1 … s_m (pooled, NHWC) and the output s_o. One synchronous step (dt = 1,
/// σ = hard sigmoid clamp(·, 0, 1), P = max pooling, P⁻¹ = max-unpooling with the indices of this
/// step's pooling, ⊛ᵀ = transposed convolution with the same kernel):
///
///     z_l   = W_l ∗ in_l + b_l,  in_1 = x,  in_l = s_{l−1};   (P_l, idx_l) = pool(z_l)
///     s_l  ← σ( P_l + W_{l+1} ⊛ᵀ P⁻¹_{idx_{l+1}}(s_{l+1}) )     (l < m)
///     s_m  ← σ( P_m + W_oᵀ s_o )
///     s_o  ← σ( W_o s_m + b_o ) [+ β(y − s_o) in a nudged phase]
///
/// Φ = s_oᵀW_o s_m + b_o·s_o + Σ_l s_l • P(W_l ∗ in_l + b_l), so every s ← σ(∂Φ/∂s) and
/// ∂Φ/∂W_l = P⁻¹_{idx_l}(s_l)ᵀ · im2col(in_l): the correlation of the layer below with the unpooled
/// layer above (seed §2.4). P_1 does not depend on the state: it is computed once per batch.
public struct ConvNet<T: EPScalar>: Sendable {
    public let spec: NetworkSpec
    public let geometry: ConvGeometry
    /// Conv kernels W_1 … W_m, then the classifier W_o (`geometry.weightShapes`).
    public var weights: [Matrix<T>]
    /// Per-channel biases b_1 … b_m, then b_o.
    public var biases: [[T]]

    public init(spec: NetworkSpec, parameters p: Parameters<T>) {
        self.spec = spec
        geometry = spec.convGeometry!
        weights = p.weights; biases = p.biases
        for (w, s) in zip(weights, geometry.weightShapes) { precondition(w.rows == s.rows && w.cols == s.cols, "conv weight shape") }
    }

    public var parameters: Parameters<T> { Parameters(weights: weights, biases: biases) }
    var m: Int { geometry.convLayers }

    /// States s_1 … s_m, s_o (B × units).
    public typealias State = [Matrix<T>]

    /// What does not change during a batch: the data, its im2col and the pooled first conv layer.
    public struct Context: Sendable {
        public let x: Matrix<T>, y: Matrix<T>
        let xCols: Matrix<T>
        let p1: Matrix<T>, idx1: [Int32]
        public var batch: Int { x.rows }
    }

    public func context(x: Matrix<T>, y: Matrix<T>) -> Context {
        let g = geometry
        let cols = ConvOps.im2col(x, side: g.image, channels: g.channels[0], kernel: g.kernel)
        let (p1, idx1) = convPool(cols, layer: 1, batch: x.rows)
        return Context(x: x, y: y, xCols: cols, p1: p1, idx1: idx1)
    }

    public func zeroState(batch: Int) -> State { (1...(m + 1)).map { Matrix(rows: batch, cols: geometry.units($0)) } }

    /// pool(W_l ∗ in_l + b_l) from the input's im2col.
    func convPool(_ cols: Matrix<T>, layer l: Int, batch: Int) -> (Matrix<T>, [Int32]) {
        let g = geometry, o = g.convSide(l), c = g.channels[l]
        var z = Matrix<T>(rows: cols.rows, cols: c)
        gemm(cols, weights[l - 1], transposeB: true, into: &z)
        let b = biases[l - 1]
        z.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] += b[i % c] } }
        return ConvOps.maxPool(z.reshaped(rows: batch, cols: o * o * c), side: o, channels: c, pool: g.pool)
    }

    /// The im2col of conv layer l's input at state s (l ≥ 2: the map s_{l−1}).
    func inputCols(_ s: State, _ ctx: Context, layer l: Int) -> Matrix<T> {
        if l == 1 { return ctx.xCols }
        let g = geometry
        return ConvOps.im2col(s[l - 2], side: g.side(l - 1), channels: g.channels[l - 1], kernel: g.kernel)
    }

    /// Intermediates of one step from state s: every layer's input im2col, pooled conv and indices.
    struct Forward {
        var cols: [Matrix<T>]
        var pooled: [Matrix<T>]
        var idx: [[Int32]]
    }

    func forward(_ s: State, _ ctx: Context) -> Forward {
        var f = Forward(cols: [ctx.xCols], pooled: [ctx.p1], idx: [ctx.idx1])
        if m >= 2 {
            for l in 2...m {
                let cols = inputCols(s, ctx, layer: l)
                let (p, i) = convPool(cols, layer: l, batch: ctx.batch)
                f.cols.append(cols); f.pooled.append(p); f.idx.append(i)
            }
        }
        return f
    }

    /// W ⊛ᵀ P⁻¹(v): the transposed convolution of layer l's kernel applied to the unpooled v.
    func transposedConv(_ v: Matrix<T>, layer l: Int, indices: [Int32]) -> Matrix<T> {
        let g = geometry, o = g.convSide(l), c = g.channels[l], batch = v.rows
        let u = ConvOps.unpool(v, indices: indices, unpooledCount: o * o * c).reshaped(rows: batch * o * o, cols: c)
        var cols = Matrix<T>(rows: batch * o * o, cols: weights[l - 1].cols)
        gemm(u, weights[l - 1], into: &cols)
        return ConvOps.col2im(cols, batch: batch, side: g.side(l - 1), channels: g.channels[l - 1], kernel: g.kernel)
    }

    /// Pre-activations a_1 … a_m, a_o of one step (and the step's intermediates).
    func preActivations(_ s: State, _ ctx: Context) -> ([Matrix<T>], Forward) {
        let f = forward(s, ctx)
        var a: [Matrix<T>] = []
        for l in 1...m {
            var al = f.pooled[l - 1]
            if l < m {
                Elementwise.axpy(1, transposedConv(s[l], layer: l + 1, indices: f.idx[l]), &al)
            } else {
                gemm(s[m], weights[m], into: &al, beta: 1)        // W_oᵀ s_o, batch-major
            }
            a.append(al)
        }
        var ao = Matrix<T>(rows: ctx.batch, cols: geometry.classes)
        gemm(s[m - 1], weights[m], transposeB: true, into: &ao)
        let bo = biases[m]
        ao.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] += bo[i % bo.count] } }
        a.append(ao)
        return (a, f)
    }

    @inline(__always) static func hardSigmoid(_ v: T) -> T { Swift.min(Swift.max(v, 0), 1) }

    /// One step; `nudge` = β adds β(y − s_o) to the output (0 in the free phase).
    public func step(_ s: State, _ ctx: Context, nudge beta: T = 0) -> State {
        let (a, _) = preActivations(s, ctx)
        var out = a.map { m in Matrix(rows: m.rows, cols: m.cols, storage: m.storage.map(Self.hardSigmoid)) }
        if beta != 0 {
            let so = s[m], y = ctx.y
            for i in 0..<out[m].count { out[m].storage[i] += beta * (y.storage[i] - so.storage[i]) }
        }
        return out
    }

    public func run(_ ctx: Context, from s0: State, steps: Int, nudge: T = 0) -> State {
        var s = s0
        for _ in 0..<steps { s = step(s, ctx, nudge: nudge) }
        return s
    }

    public func freePhase(_ ctx: Context) -> State { run(ctx, from: zeroState(batch: ctx.batch), steps: spec.T) }

    public static func predictions(_ s: State) -> [Int] {
        let o = s.last!
        return (0..<o.rows).map { r in (0..<o.cols).max { o[r, $0] < o[r, $1] }! }
    }

    // MARK: EP

    /// ∂Φ/∂θ at state s: [∂Φ/∂W_1 … ∂Φ/∂W_m, ∂Φ/∂W_o] and the bias derivatives, summed over the batch.
    public func phiGradient(_ s: State, _ ctx: Context) -> (weights: [Matrix<T>], biases: [[T]]) {
        let f = forward(s, ctx)
        let g = geometry
        var dw: [Matrix<T>] = [], db: [[T]] = []
        for l in 1...m {
            let o = g.convSide(l), c = g.channels[l]
            let u = ConvOps.unpool(s[l - 1], indices: f.idx[l - 1], unpooledCount: o * o * c).reshaped(rows: ctx.batch * o * o, cols: c)
            var w = Matrix<T>(rows: c, cols: weights[l - 1].cols)
            gemm(u, transposeA: true, f.cols[l - 1], into: &w)
            dw.append(w)
            db.append(ConvOps.channelSums(s[l - 1], channels: c))
        }
        var wo = Matrix<T>(rows: g.classes, cols: g.units(m))
        gemm(s[m], transposeA: true, s[m - 1], into: &wo)
        dw.append(wo)
        db.append(s[m].columnSums())
        return (dw, db)
    }

    /// The EP update (already divided by the nudging divisor and the batch size) from the two
    /// states that end the phases: plus (s^{+β}) and minus (s* or s^{−β}).
    /// `batchSize` is that of the whole mini-batch when `ctx` holds one chunk of it.
    public func epUpdate(plus: State, minus: State, _ ctx: Context, divisor: T, batchSize: Int? = nil) -> (weights: [Matrix<T>], biases: [[T]]) {
        var (w, b) = phiGradient(plus, ctx)
        let (wm, bm) = phiGradient(minus, ctx)
        let scale = 1 / (divisor * T(batchSize ?? ctx.batch))
        for i in w.indices {
            for j in 0..<w[i].count { w[i].storage[j] = (w[i].storage[j] - wm[i].storage[j]) * scale }
            for j in b[i].indices { b[i][j] = (b[i][j] - bm[i][j]) * scale }
        }
        return (w, b)
    }

    /// Plain SGD ascent along an EP update (or descent along a gradient with negative rates).
    public mutating func apply(weights dw: [Matrix<T>], biases db: [[T]], scale: T = 1) {
        for i in weights.indices {
            let lr = T(spec.learningRates[i]) * scale
            Elementwise.axpy(lr, dw[i], &weights[i])
            for j in biases[i].indices { biases[i][j] += lr * db[i][j] }
        }
    }

    // MARK: BPTT

    /// Gradients of L = (1/2B)Σ‖s_o(T) − y‖² by backpropagation through the last `window` steps of
    /// the free phase, with per-step partials (t = 0 is the last step) for the last `record` steps.
    public struct Gradients: Sendable {
        public var weights: [Matrix<T>]
        public var biases: [[T]]
        /// ∂L/∂θ_{T−t} per step t < record (weights only).
        public var perStepWeights: [[Matrix<T>]]
        /// ∂L/∂s_{T−t} per step t < record, per state layer (summed over the batch).
        public var perStepNeurons: [[[T]]]
        public var final: State
        public var loss: T
    }

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
        var gw = weights.map { Matrix<T>(rows: $0.rows, cols: $0.cols) }
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
        // δ = λ ⊙ σ′(a), σ′ = 1 on (0, 1) for the hard sigmoid.
        var delta = lam
        for l in 0...m { for i in 0..<delta[l].count where !(a[l].storage[i] > 0 && a[l].storage[i] < 1) { delta[l].storage[i] = 0 } }
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
            let ud = ConvOps.unpool(delta[l - 1], indices: f.idx[l - 1], unpooledCount: o * o * c).reshaped(rows: batch * o * o, cols: c)
            gemm(ud, transposeA: true, f.cols[l - 1], into: &gw[l - 1], beta: 1)
            gb.append(ConvOps.channelSums(delta[l - 1], channels: c))
            if l >= 2 {
                var cols = Matrix<T>(rows: batch * o * o, cols: weights[l - 1].cols)
                gemm(ud, weights[l - 1], into: &cols)
                Elementwise.axpy(1, ConvOps.col2im(cols, batch: batch, side: g.side(l - 1), channels: g.channels[l - 1], kernel: g.kernel), &out[l - 2])
            }
            // Feedback W_{l+1} ⊛ᵀ P⁻¹(s_{l+1}) into a_l (l < m): linear in s_{l+1} and in W_{l+1}.
            if l < m {
                let o2 = g.convSide(l + 1), c2 = g.channels[l + 1]
                let dCols = ConvOps.im2col(delta[l - 1], side: g.side(l), channels: c, kernel: g.kernel)
                var du = Matrix<T>(rows: batch * o2 * o2, cols: c2)
                gemm(dCols, weights[l], transposeB: true, into: &du)
                Elementwise.axpy(1, ConvOps.gather(du.reshaped(rows: batch, cols: o2 * o2 * c2), indices: f.idx[l], pooledCount: g.units(l + 1)), &out[l])
                let u = ConvOps.unpool(s[l], indices: f.idx[l], unpooledCount: o2 * o2 * c2).reshaped(rows: batch * o2 * o2, cols: c2)
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
        for l in 0...m { for i in 0..<sStar[l].count { residual = Swift.max(residual, abs(Double(sStar[l].storage[i] - sPrev[l].storage[i]))) } }
        let B = Double(ctx.batch)
        var layers: [GDU.LayerSeries] = []
        func series(_ name: String, _ kind: String, ep: [[Double]], ref: [[Double]]) -> GDU.LayerSeries {
            let rel: [Double?] = zip(ep, ref).map { e, r in
                let nr = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return nr == 0 ? nil : zip(e, r).reduce(0) { $0 + ($1.0 + $1.1) * ($1.0 + $1.1) }.squareRoot() / nr
            }
            let negRef = ref.map { $0.map { -$0 } }
            return GDU.LayerSeries(layer: name, kind: kind, ep: ep, bptt: negRef, agreement: Agreement(series: ep, reference: negRef),
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
                let a = phiPlus[t + 1][i].storage, b = phiPlus[t][i].storage, c = phiMinus[t + 1][i].storage, d = phiMinus[t][i].storage
                ep.append((0..<a.count).map { Double((a[$0] - b[$0]) - (c[$0] - d[$0])) / (Double(divisor) * B) })
            }
            layers.append(series(names[i], "weights", ep: ep, ref: bp.perStepWeights.map { $0[i].storage.map(Double.init) }))
        }
        return GDU.Report(layers: layers, loss: Double(bp.loss), freePhaseResidual: residual)
    }
}
