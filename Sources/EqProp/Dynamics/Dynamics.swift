/// Network state: `state[l-1]` is layer l (1…L) as a B × n_l matrix, one row per example.
public typealias State<T: EPScalar> = [Matrix<T>]

/// What stays fixed while the network relaxes on one batch.
public struct BatchContext<T: EPScalar> {
    /// Input x (B × n_0).
    public let x: Matrix<T>
    /// f(x): x for P, ρ(x) for EB (the seed's EB code feeds ρ(x) to the first layer).
    public let fx: Matrix<T>
    /// One-hot targets (B × n_L).
    public let y: Matrix<T>
    /// Per layer: bias, plus the input read when reads are exact (it is then constant across both
    /// phases and computed once per batch).
    public let constantDrive: [Matrix<T>]
    /// Whether `constantDrive` already contains the input read.
    public let inputReadCached: Bool
    /// Optional Gaussian noise added to the hidden layers' pre-activations at every step (a model of
    /// analog neuron noise, as in Laborieux & Zenke's holomorphic-EP experiments); nil = none.
    public var neuronNoise: NeuronNoise?
    /// The simulated time of this relaxation's reads (and its read lane): each step moves it on.
    public var clock = ReadClock()
    /// Number of examples B (rows of x).
    public var batchSize: Int { x.rows }
}

/// Seeded Gaussian noise on hidden pre-activations, N(0, σ²) per unit and step.
public final class NeuronNoise: @unchecked Sendable {
    /// Standard deviation σ of the noise, in pre-activation units.
    public let sigma: Float
    var rng: RandomStream
    /// Noise of standard deviation `sigma` drawn from `rng`.
    public init(sigma: Double, rng: RandomStream) { self.sigma = Float(sigma); self.rng = rng }
    func perturb(_ m: inout Matrix<Float>) {
        var noise = [Float](repeating: 0, count: m.count)
        noise.withUnsafeMutableBufferPointer { rng.fillNormal($0, sigma: sigma) }
        for i in 0..<m.count { m.storage[i] += noise[i] }
    }
}

/// The transition `s_{t+1} = F(x, s_t, θ)` of both models, written once (spec ep.md §2, §4).
///
/// With f the synaptic activity (identity for P, ρ for EB) and, for each layer l, the drive
/// `h_l = b_l + Σ_{c: a→l} f(s_a)·W_cᵀ + Σ_{c: l→b} f(s_b)·W_c` (input a = 0 gives f(x)):
/// - P:  `s_l ← s_l + dt·(−s_l + σ(h_l))`  (dt = 1 gives the seed's `s ← σ(h)`)
/// - EB: `s_l ← s_l + ε·(−s_l + ρ′(s_l)⊙h_l)`, then clipped to [0,1] if `clamp`; the seed code's output
///   layer has no ρ′ factor unless `exactPrimitive`.
/// The nudged phase adds `dt·β·(y − s_L)` to the output layer, outside σ, as in the seed's code.
/// With Φ = ½(1−dt)‖s‖² + dt·[Σ_c f(s_b)ᵀW_c f(s_a) + Σ bᵀf(s)] (exact for EB, approximate for P),
/// `∂Φ/∂W_c = dt·f(s_b)ᵀf(s_a)`, so the theorem's nudging strength is β_eff = dt·β.
public enum Dynamics {
    /// The context of a batch (x B × n_0, one-hot y B × n_L): f(x), and per layer the bias plus, when
    /// every array reads exactly, the input read computed once.
    public static func context<W: SynapticArray>(_ net: Network<W>, x: Matrix<W.Scalar>, y: Matrix<W.Scalar>)
        -> BatchContext<W.Scalar>
    {
        typealias T = W.Scalar
        let spec = net.spec
        precondition(x.cols == spec.layers[0] && y.cols == spec.layers.last! && x.rows == y.rows)
        let fx = spec.kind == .energyBased ? spec.activation.applied(x) : x
        var drive: [Matrix<T>] = (1...net.depth).map { l in
            var m = Matrix<T>(rows: x.rows, cols: spec.layers[l])
            Elementwise.addRow(net.biases[l - 1], to: &m)
            return m
        }
        let cache = net.arrays.allSatisfy(\.readsAreExact)
        if cache {
            for (ci, c) in net.connections.enumerated() where c.from == 0 {
                net.arrays[ci].multiply(fx, into: &drive[c.to - 1], accumulate: true)
            }
        }
        return BatchContext(x: x, fx: fx, y: y, constantDrive: drive, inputReadCached: cache)
    }

    /// All-zero state (the seed's `initHidden`).
    public static func zeroState<W: SynapticArray>(_ net: Network<W>, batch: Int) -> State<W.Scalar> {
        (1...net.depth).map { Matrix(rows: batch, cols: net.spec.layers[$0]) }
    }

    /// f(s): the activity that enters the synapses (P: s itself; EB: ρ(s)).
    public static func activity<W: SynapticArray>(_ net: Network<W>, _ s: State<W.Scalar>) -> State<W.Scalar> {
        net.spec.kind == .energyBased ? s.map { net.spec.activation.applied($0) } : s
    }

    /// The drive h_l of every layer.
    public static func drives<W: SynapticArray>(
        _ net: Network<W>, _ ctx: BatchContext<W.Scalar>, activity fs: State<W.Scalar>
    ) -> [Matrix<W.Scalar>] {
        var h = ctx.constantDrive
        for (ci, c) in net.connections.enumerated() {
            let a = net.arrays[ci]
            if c.from == 0 {
                if !ctx.inputReadCached { a.multiply(ctx.fx, into: &h[c.to - 1], accumulate: true, clock: ctx.clock) }
            } else {
                a.multiply(fs[c.from - 1], into: &h[c.to - 1], accumulate: true, clock: ctx.clock)
                a.multiplyTransposed(fs[c.to - 1], into: &h[c.from - 1], accumulate: true, clock: ctx.clock)
            }
        }
        return h
    }

    /// Whether layer l (1…L) carries the ρ′(s) factor in the EB dynamics.
    @inline(__always)
    static func hasPrimeFactor(_ spec: NetworkSpec, layer l: Int) -> Bool {
        l < spec.layers.count - 1 || spec.exactPrimitive
    }

    /// One synchronous step of every layer. `nudge` is β (0 in the free phase); the output gets
    /// `dt·β·(y − s_L)`.
    /// Reads happen at the arrays' current simulated time; then one step of simulated time passes.
    public static func step<W: SynapticArray>(
        _ net: Network<W>, _ ctx: BatchContext<W.Scalar>, _ s: State<W.Scalar>, nudge: W.Scalar = 0
    ) -> State<W.Scalar> {
        defer { ctx.clock.step() }
        typealias T = W.Scalar
        let spec = net.spec
        let L = net.depth
        let fs = activity(net, s)
        var h = drives(net, ctx, activity: fs)
        if let noise = ctx.neuronNoise, L > 1 {
            // Hidden layers only (the output is read out, not a noisy analog neuron here).
            for l in 0..<(L - 1) {
                if var hf = h[l] as? Matrix<Float> { noise.perturb(&hf); h[l] = hf as! Matrix<W.Scalar> }
            }
        }
        let dt = T(spec.dt)
        var out = s
        for l in 1...L {
            let isOutput = l == L
            let nb = isOutput ? dt * nudge : 0
            let act = spec.activation
            h[l - 1].storage.withUnsafeBufferPointer { ph in
                s[l - 1].storage.withUnsafeBufferPointer { ps in
                    fs[l - 1].storage.withUnsafeBufferPointer { pf in
                        out[l - 1].storage.withUnsafeMutableBufferPointer { po in
                            switch spec.kind {
                            case .prototypical, .convolutional:  // (conv specs never build a fully connected Network)
                                // σ(h) in one vectorized pass, then the leaky integration if dt < 1.
                                for i in 0..<po.count { po[i] = ph[i] }
                                act.apply(po)
                                if dt != 1 {
                                    for i in 0..<po.count { po[i] = ps[i] + dt * (po[i] - ps[i]) }
                                }
                            case .energyBased:
                                // ρ′(s) from ρ(s), already computed (vectorized) for the synaptic reads.
                                if hasPrimeFactor(spec, layer: l) {
                                    for i in 0..<po.count {
                                        po[i] = ps[i] + dt * (act.derivative(fromValue: pf[i]) * ph[i] - ps[i])
                                    }
                                } else {
                                    for i in 0..<po.count { po[i] = ps[i] + dt * (ph[i] - ps[i]) }
                                }
                            }
                        }
                    }
                }
            }
            if isOutput && nudge != 0 {
                ctx.y.storage.withUnsafeBufferPointer { py in
                    s[l - 1].storage.withUnsafeBufferPointer { ps in
                        out[l - 1].storage.withUnsafeMutableBufferPointer { po in
                            for i in 0..<po.count { po[i] += nb * (py[i] - ps[i]) }
                        }
                    }
                }
            }
            if spec.clamp {
                out[l - 1].storage.withUnsafeMutableBufferPointer { po in
                    for i in 0..<po.count { po[i] = Swift.min(Swift.max(po[i], 0), 1) }
                }
            }
        }
        return out
    }

    /// Runs `steps` steps from `s`, calling `observe(t, s_t, s_{t+1})` after each if given.
    public static func run<W: SynapticArray>(
        _ net: Network<W>, _ ctx: BatchContext<W.Scalar>, from s: State<W.Scalar>, steps: Int,
        nudge: W.Scalar = 0, observe: ((Int, State<W.Scalar>, State<W.Scalar>) -> Void)? = nil
    ) -> State<W.Scalar> {
        var cur = s
        for t in 0..<steps {
            let next = step(net, ctx, cur, nudge: nudge)
            observe?(t, cur, next)
            cur = next
        }
        return cur
    }

    /// Free phase: T steps from zero.
    public static func freePhase<W: SynapticArray>(_ net: Network<W>, _ ctx: BatchContext<W.Scalar>, steps: Int? = nil)
        -> State<W.Scalar>
    {
        run(net, ctx, from: zeroState(net, batch: ctx.batchSize), steps: steps ?? net.spec.T)
    }

    /// Mean loss over the batch, L = (1/2B) Σ ‖s_L − y‖².
    public static func loss<T: EPScalar>(_ s: State<T>, target y: Matrix<T>) -> T {
        let out = s.last!
        var acc: T = 0
        for i in 0..<out.count { let d = out.storage[i] - y.storage[i]; acc += d * d }
        return acc / T(2 * out.rows)
    }

    /// argmax of the output layer per example.
    public static func predictions<T: EPScalar>(_ s: State<T>) -> [Int] {
        let out = s.last!
        return (0..<out.rows).map { r in
            var best = 0
            for c in 1..<out.cols where out[r, c] > out[r, best] { best = c }
            return best
        }
    }
}
