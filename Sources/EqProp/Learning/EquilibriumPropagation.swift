/// The two-phase EP learning rule (spec ep.md §2).
///
/// Free phase: T steps from 0 to s*. Nudged phase: K steps from s* with the output nudged by
/// dt·β·(y − s_L). Update, with f the synaptic activity and B the batch size:
/// `ΔW_c = [f(s^β_b)ᵀ f(s^β_a) − f(s*_b)ᵀ f(s*_a)] / (β·B)`, `Δb_l = Σ_batch [f(s^β_l) − f(s*_l)] / (β·B)`,
/// applied as `θ += lr·Δθ` through each array's local outer-product update.
public enum EquilibriumPropagation {
    /// Result of the phases on one batch.
    public struct Phases<T: EPScalar> {
        /// The free-phase fixed point s*.
        public var free: State<T>
        /// The state(s) whose Φ-derivative enters with a plus sign, and with a minus sign.
        public var positive: State<T>
        /// The minus-sign state: s* (one-sided, random-sign) or the −β nudged state (symmetric).
        public var negative: State<T>
        /// The update is `[∂Φ/∂θ(positive) − ∂Φ/∂θ(negative)] / divisor` (β, −β or 2β).
        public var divisor: T

        /// The phases of consecutive parts of one batch as the phases of the whole batch (rows
        /// stacked in order; every part has the same divisor).
        public static func joined(_ parts: [Phases]) -> Phases {
            precondition(!parts.isEmpty && parts.allSatisfy { $0.divisor == parts[0].divisor })
            func stack(_ states: [State<T>]) -> State<T> {
                states[0].indices.map { l in Matrix.stackingRows(states.map { $0[l] }) }
            }
            return Phases(
                free: stack(parts.map(\.free)), positive: stack(parts.map(\.positive)),
                negative: stack(parts.map(\.negative)), divisor: parts[0].divisor)
        }
    }

    /// Runs the free and nudged phases. `sign` (±1) is used by the random-sign variant.
    public static func phases<W: SynapticArray>(_ net: Network<W>, _ ctx: BatchContext<W.Scalar>, sign: W.Scalar = 1)
        -> Phases<W.Scalar>
    {
        typealias T = W.Scalar
        let spec = net.spec
        let beta = T(spec.beta)
        let sStar = Dynamics.freePhase(net, ctx)
        ctx.clock.gap()
        switch spec.nudging {
        case .oneSided:
            let sB = Dynamics.run(net, ctx, from: sStar, steps: spec.K, nudge: beta)
            return Phases(free: sStar, positive: sB, negative: sStar, divisor: beta)
        case .randomSign:
            let b = sign * beta
            let sB = Dynamics.run(net, ctx, from: sStar, steps: spec.K, nudge: b)
            return Phases(free: sStar, positive: sB, negative: sStar, divisor: b)
        case .symmetric:
            let sP = Dynamics.run(net, ctx, from: sStar, steps: spec.K, nudge: beta)
            let sM = Dynamics.run(net, ctx, from: sStar, steps: spec.K, nudge: -beta)
            return Phases(free: sStar, positive: sP, negative: sM, divisor: 2 * beta)
        }
    }

    /// Applies `θ += lr·Δθ^EP` to the network's arrays and biases.
    /// `batchSize` is the size of the whole mini-batch when `phases` holds one chunk of it.
    public static func apply<W: SynapticArray>(
        _ phases: Phases<W.Scalar>, to net: inout Network<W>, context ctx: BatchContext<W.Scalar>, batchSize: Int? = nil
    ) {
        typealias T = W.Scalar
        let fp = Dynamics.activity(net, phases.positive)
        let fn = Dynamics.activity(net, phases.negative)
        let B = T(batchSize ?? ctx.batchSize)
        for (ci, c) in net.connections.enumerated() {
            let scale = T(net.spec.learningRates[ci]) / (phases.divisor * B)
            if scale == 0 { continue }
            if c.from == 0 {
                // The input is the same in both phases: one rank-B pass of the difference,
                // (f(s⁺_b) − f(s⁻_b))ᵀ·f(x), computed in the periphery.
                net.arrays[ci].update(
                    post: Elementwise.difference(fp[c.to - 1], fn[c.to - 1]), pre: ctx.fx, scale: scale,
                    clock: ctx.clock)
            } else {
                net.arrays[ci].updateContrastive(
                    plus: (fp[c.to - 1], fp[c.from - 1]), minus: (fn[c.to - 1], fn[c.from - 1]), scale: scale,
                    clock: ctx.clock)
            }
        }
        // Bias of layer l uses the learning rate of its incoming chain connection (l−1 → l).
        for l in 1...net.depth {
            let scale = T(net.spec.learningRates[l - 1]) / (phases.divisor * B)
            let d = Elementwise.difference(fp[l - 1], fn[l - 1]).columnSums()
            for j in 0..<d.count { net.biases[l - 1][j] += scale * d[j] }
        }
    }

    /// ΔW^EP for one weight matrix between two states, *without* the learning rate:
    /// `[f(s_b⁺)ᵀ f(s_a⁺) − f(s_b⁻)ᵀ f(s_a⁻)] / (divisor·B)`. Used by the GDU check (per step) and
    /// the fidelity metrics (total).
    public static func weightDelta<W: SynapticArray>(
        _ net: Network<W>, _ ctx: BatchContext<W.Scalar>, connection ci: Int,
        positive sp: State<W.Scalar>, negative sn: State<W.Scalar>, divisor: W.Scalar
    ) -> Matrix<W.Scalar> {
        let c = net.connections[ci]
        let fp = Dynamics.activity(net, sp), fn = Dynamics.activity(net, sn)
        let B = W.Scalar(ctx.batchSize)
        var d = Matrix<W.Scalar>(rows: net.spec.layers[c.to], cols: net.spec.layers[c.from])
        let preP = c.from == 0 ? ctx.fx : fp[c.from - 1]
        let preN = c.from == 0 ? ctx.fx : fn[c.from - 1]
        gemm(fp[c.to - 1], transposeA: true, preP, into: &d, alpha: 1 / (divisor * B))
        gemm(fn[c.to - 1], transposeA: true, preN, into: &d, alpha: -1 / (divisor * B), beta: 1)
        return d
    }
}
