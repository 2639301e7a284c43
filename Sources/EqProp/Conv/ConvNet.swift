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
///
/// Every weight matrix is a synaptic array: a conv kernel (C_out × k²·C_in) is read with the im2col
/// rows of the whole batch, (B·positions) × k²·C_in, forward for the convolution and transposed for
/// the transposed convolution, and its EP update is the local outer product of the unpooled upper
/// map with the im2col of the lower one — so P-conv runs on ideal weights and on crossbars alike.
public struct ConvNet<W: SynapticArray> {
    /// The scalar of the arrays, states and biases.
    public typealias T = W.Scalar
    /// The P-conv spec (kind `prototypical-conv`).
    public let spec: NetworkSpec
    /// The conv geometry of `spec`: image, kernel, pooling, channels and classes.
    public let geometry: ConvGeometry
    /// Conv kernels W_1 … W_m, then the classifier W_o (`geometry.weightShapes`).
    public var arrays: [W]
    /// Per-channel biases b_1 … b_m, then b_o.
    public var biases: [[T]]

    /// A network from its arrays (shapes `geometry.weightShapes`) and biases.
    public init(spec: NetworkSpec, arrays: [W], biases: [[T]]) {
        self.spec = spec
        geometry = spec.convGeometry!
        self.arrays = arrays; self.biases = biases
        for (a, s) in zip(arrays, geometry.weightShapes) {
            precondition(a.outputs == s.rows && a.inputs == s.cols, "conv weight shape")
        }
    }

    var m: Int { geometry.convLayers }

    /// States s_1 … s_m, s_o (B × units).
    public typealias State = [Matrix<T>]

    /// What does not change during a batch: the data, its im2col and, when reads are exact, the
    /// pooled first conv layer (it does not depend on the state; noisy reads redo it every step).
    public struct Context {
        /// Input images x (B × image²·c_0, NHWC) and one-hot targets y (B × classes).
        public let x: Matrix<T>, y: Matrix<T>
        let xCols: Matrix<T>
        let first: (pooled: Matrix<T>, indices: [Int32])?
        /// The simulated time of this relaxation's reads (and its read lane): each step moves it on.
        public var clock = ReadClock()
        /// Number of examples B.
        public var batch: Int { x.rows }
    }

    /// The context of a batch at a fresh clock, without neuron noise.
    public func context(x: Matrix<T>, y: Matrix<T>) -> Context {
        context(x: x, y: y, clock: ReadClock(), neuronNoise: nil)
    }

    /// P-conv has no neuron-noise model: `neuronNoise` is ignored (the spec validation rejects it).
    public func context(x: Matrix<T>, y: Matrix<T>, clock: ReadClock, neuronNoise: NeuronNoise?) -> Context {
        let g = geometry
        let cols = ConvOps.im2col(x, side: g.image, channels: g.channels[0], kernel: g.kernel)
        var ctx = Context(x: x, y: y, xCols: cols, first: nil, clock: clock)
        if arrays.allSatisfy(\.readsAreExact) {
            ctx = Context(x: x, y: y, xCols: cols, first: convPool(cols, layer: 1, ctx), clock: clock)
        }
        return ctx
    }

    /// The all-zero state s_1 … s_m, s_o for `batch` examples.
    public func zeroState(batch: Int) -> State { (1...(m + 1)).map { Matrix(rows: batch, cols: geometry.units($0)) } }

    /// pool(W_l ∗ in_l + b_l) from the input's im2col.
    func convPool(_ cols: Matrix<T>, layer l: Int, _ ctx: Context) -> (Matrix<T>, [Int32]) {
        let g = geometry, o = g.convSide(l), c = g.channels[l], batch = ctx.batch
        var z = Matrix<T>(rows: cols.rows, cols: c)
        arrays[l - 1].multiply(cols, into: &z, accumulate: false, clock: ctx.clock)
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
        let (p1, idx1) = ctx.first ?? convPool(ctx.xCols, layer: 1, ctx)
        var f = Forward(cols: [ctx.xCols], pooled: [p1], idx: [idx1])
        if m >= 2 {
            for l in 2...m {
                let cols = inputCols(s, ctx, layer: l)
                let (p, i) = convPool(cols, layer: l, ctx)
                f.cols.append(cols); f.pooled.append(p); f.idx.append(i)
            }
        }
        return f
    }

    /// W ⊛ᵀ P⁻¹(v): the transposed convolution of layer l's kernel applied to the unpooled v.
    func transposedConv(_ v: Matrix<T>, layer l: Int, indices: [Int32], _ ctx: Context) -> Matrix<T> {
        let g = geometry, o = g.convSide(l), c = g.channels[l], batch = v.rows
        let u = ConvOps.unpool(v, indices: indices, unpooledCount: o * o * c).reshaped(rows: batch * o * o, cols: c)
        var cols = Matrix<T>(rows: batch * o * o, cols: arrays[l - 1].inputs)
        arrays[l - 1].multiplyTransposed(u, into: &cols, accumulate: false, clock: ctx.clock)
        return ConvOps.col2im(cols, batch: batch, side: g.side(l - 1), channels: g.channels[l - 1], kernel: g.kernel)
    }

    /// Pre-activations a_1 … a_m, a_o of one step (and the step's intermediates).
    func preActivations(_ s: State, _ ctx: Context) -> ([Matrix<T>], Forward) {
        let f = forward(s, ctx)
        var a: [Matrix<T>] = []
        for l in 1...m {
            var al = f.pooled[l - 1]
            if l < m {
                Elementwise.axpy(1, transposedConv(s[l], layer: l + 1, indices: f.idx[l], ctx), &al)
            } else {
                // W_oᵀ s_o, batch-major
                arrays[m].multiplyTransposed(s[m], into: &al, accumulate: true, clock: ctx.clock)
            }
            a.append(al)
        }
        var ao = Matrix<T>(rows: ctx.batch, cols: geometry.classes)
        arrays[m].multiply(s[m - 1], into: &ao, accumulate: false, clock: ctx.clock)
        let bo = biases[m]
        ao.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] += bo[i % bo.count] } }
        a.append(ao)
        return (a, f)
    }

    /// One step; `nudge` = β adds β(y − s_o) to the output (0 in the free phase). Reads happen at
    /// the arrays' current simulated time; then one step of simulated time passes.
    public func step(_ s: State, _ ctx: Context, nudge beta: T = 0) -> State {
        defer { ctx.clock.step() }
        let (a, _) = preActivations(s, ctx)
        var out = a.map { m in
            Matrix(rows: m.rows, cols: m.cols, storage: m.storage.map { Swift.min(Swift.max($0, 0), 1) })
        }  // σ = hard sigmoid
        if beta != 0 {
            let so = s[m], y = ctx.y
            for i in 0..<out[m].count { out[m].storage[i] += beta * (y.storage[i] - so.storage[i]) }
        }
        return out
    }

    /// `steps` steps from `s0`, each nudged by `nudge` = β (0 for free steps).
    public func run(_ ctx: Context, from s0: State, steps: Int, nudge: T = 0) -> State {
        var s = s0
        for _ in 0..<steps { s = step(s, ctx, nudge: nudge) }
        return s
    }

    /// T free steps from the zero state.
    public func freePhase(_ ctx: Context) -> State { run(ctx, from: zeroState(batch: ctx.batch), steps: spec.T) }

    /// argmax of the output layer per example.
    public static func predictions(_ s: State) -> [Int] { Dynamics.predictions(s) }

    // MARK: EP

    /// The activities of ∂Φ/∂θ at state s: per weight matrix (post, pre) with ∂Φ/∂W = postᵀ·pre —
    /// (P⁻¹_{idx_l}(s_l), im2col(in_l)) for conv layer l, (s_o, s_m) for the classifier — and the bias
    /// derivatives, summed over the batch. The pooling indices are those of a read at state s.
    func activities(_ s: State, _ ctx: Context) -> (terms: [(post: Matrix<T>, pre: Matrix<T>)], biases: [[T]]) {
        let f = forward(s, ctx)
        let g = geometry
        var terms: [(post: Matrix<T>, pre: Matrix<T>)] = [], db: [[T]] = []
        for l in 1...m {
            let o = g.convSide(l), c = g.channels[l]
            let u = ConvOps.unpool(s[l - 1], indices: f.idx[l - 1], unpooledCount: o * o * c).reshaped(
                rows: ctx.batch * o * o, cols: c)
            terms.append((u, f.cols[l - 1]))
            db.append(ConvOps.channelSums(s[l - 1], channels: c))
        }
        terms.append((s[m], s[m - 1]))
        db.append(s[m].columnSums())
        return (terms, db)
    }

    /// ∂Φ/∂θ at state s: [∂Φ/∂W_1 … ∂Φ/∂W_m, ∂Φ/∂W_o] and the bias derivatives, summed over the batch.
    public func phiGradient(_ s: State, _ ctx: Context) -> (weights: [Matrix<T>], biases: [[T]]) {
        let (terms, db) = activities(s, ctx)
        let dw = terms.map { t in
            var w = Matrix<T>(rows: t.post.cols, cols: t.pre.cols)
            gemm(t.post, transposeA: true, t.pre, into: &w)
            return w
        }
        return (dw, db)
    }
}

extension ConvNet: Sendable where W: Sendable {}
extension ConvNet.Context: Sendable {}
