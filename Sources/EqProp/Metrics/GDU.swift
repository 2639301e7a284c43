/// The GDU check of the seed paper: per-step EP updates ΔEP(β,t) against −∇BPTT(t), t = 0…K−1.
public enum GDU {
    /// One layer's comparison: per-step series (t × components) and the agreement metrics.
    public struct LayerSeries: Sendable {
        /// Layer name: s1…sL for neurons, W<from><to> for weights.
        public var layer: String
        /// "neurons" or "weights".
        public var kind: String
        /// ΔEP(β,t) for t = 0…K−1, one value per component at each t.
        public var ep: [[Double]]
        /// −∇BPTT(t), the reference, shaped as `ep`.
        public var bptt: [[Double]]
        /// Agreement of `ep` with `bptt`.
        public var agreement: Agreement
        /// ‖ΔEP(t) + ∇BPTT(t)‖ / ‖∇BPTT(t)‖ for each t; nil where ∇BPTT(t) is exactly zero (a layer
        /// the output cannot yet reach t steps back), see `perStepNormEP`.
        public var perStepRelativeError: [Double?]
        /// ‖ΔEP(t)‖ for each t.
        public var perStepNormEP: [Double]
    }

    /// The outcome of one check: neuron layers s1…sL first, then the weight matrices.
    public struct Report: Sendable {
        /// Per-layer series and metrics.
        public var layers: [LayerSeries]
        /// Loss of the batch at the free-phase final state s_T.
        public var loss: Double
        /// Largest |s_T − s_{T−1}| of the free phase: how far from a fixed point the check starts.
        public var freePhaseResidual: Double
    }

    /// Neuron names s1…sL (sL is the output); weight names W<from><to> (layer 0 = input).
    public static func neuronName(_ l: Int) -> String { "s\(l)" }
    /// Name of connection `c`: W<from><to>, e.g. W01 from the input to layer 1.
    public static func weightName(_ c: (from: Int, to: Int)) -> String { "W\(c.from)\(c.to)" }

    /// Runs the check on one batch. The nudged phase follows `spec.nudging` (random sign uses +β):
    /// ΔS^EP(t) = Σ_batch [(s⁺_{t+1} − s⁺_t) − (s⁻_{t+1} − s⁻_t)] / (dt·d·B) and
    /// ΔW^EP(t) = [∂Φ/∂W(s⁺_{t+1}) − ∂Φ/∂W(s⁺_t) − (same for s⁻)] / d, with s⁻ ≡ s* and d = β for
    /// one-sided nudging, s⁻ the −β phase and d = 2β for symmetric nudging.
    public static func check<W: SynapticArray>(_ net: Network<W>, x: Matrix<W.Scalar>, y: Matrix<W.Scalar>) -> Report {
        typealias T = W.Scalar
        let spec = net.spec
        let K = spec.K
        let ctx = Dynamics.context(net, x: x, y: y)
        let bp = BPTT.run(net, ctx, record: K)
        let sStar = bp.final
        let beta = T(spec.beta)
        let symmetric = spec.nudging == .symmetric
        let divisor = symmetric ? 2 * beta : beta
        func trajectory(_ b: T) -> [State<T>] {
            var tr = [sStar]
            for _ in 0..<K { tr.append(Dynamics.step(net, ctx, tr.last!, nudge: b)) }
            return tr
        }
        let plus = trajectory(beta)
        let minus = symmetric ? trajectory(-beta) : [State<T>](repeating: sStar, count: K + 1)
        let sPrev = Dynamics.run(net, ctx, from: Dynamics.zeroState(net, batch: ctx.batchSize), steps: spec.T - 1)
        var residual = 0.0
        for l in 0..<net.depth {
            for i in 0..<sStar[l].count {
                residual = max(residual, abs(Double(sStar[l].storage[i] - sPrev[l].storage[i])))
            }
        }

        var out: [LayerSeries] = []
        let B = Double(ctx.batchSize), dt = Double(spec.dt)
        for l in 0..<net.depth {
            var ep: [[Double]] = [], ref: [[Double]] = []
            for t in 0..<K {
                let n = spec.layers[l + 1]
                var v = [Double](repeating: 0, count: n), r = [Double](repeating: 0, count: n)
                for row in 0..<ctx.batchSize {
                    for j in 0..<n {
                        let dp = Double(plus[t + 1][l][row, j] - plus[t][l][row, j])
                        let dm = Double(minus[t + 1][l][row, j] - minus[t][l][row, j])
                        v[j] += (dp - dm) / (dt * Double(divisor) * B)
                        r[j] -= Double(bp.neurons[t][l][row, j])
                    }
                }
                ep.append(v); ref.append(r)
            }
            out.append(series(neuronName(l + 1), "neurons", ep, ref))
        }
        for (ci, c) in net.connections.enumerated() {
            var ep: [[Double]] = [], ref: [[Double]] = []
            for t in 0..<K {
                var d = EquilibriumPropagation.weightDelta(
                    net, ctx, connection: ci, positive: plus[t + 1], negative: plus[t], divisor: divisor)
                if symmetric {
                    let dm = EquilibriumPropagation.weightDelta(
                        net, ctx, connection: ci, positive: minus[t + 1], negative: minus[t], divisor: divisor)
                    Elementwise.axpy(-1, dm, &d)
                }
                ep.append(d.storage.map { Double($0) })
                ref.append(bp.perStep[t].weights[ci].storage.map { -Double($0) })
            }
            out.append(series(weightName(c), "weights", ep, ref))
        }
        return Report(layers: out, loss: Double(bp.loss), freePhaseResidual: residual)
    }

    static func series(_ name: String, _ kind: String, _ ep: [[Double]], _ ref: [[Double]]) -> LayerSeries {
        let per = zip(ep, ref).map { a, b -> Double? in
            var num = 0.0, den = 0.0
            for i in a.indices { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
            return den == 0 ? nil : (num / den).squareRoot()
        }
        let norms = ep.map { a in a.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return LayerSeries(
            layer: name, kind: kind, ep: ep, bptt: ref, agreement: Agreement(series: ep, reference: ref),
            perStepRelativeError: per, perStepNormEP: norms)
    }
}
