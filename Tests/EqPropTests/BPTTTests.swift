import Testing

@testable import EqProp
@testable import EqPropRuns

/// BPTT (hand-written adjoints) against central finite differences in Double.
@Suite struct BPTTTests {
    /// Loss after running `T` steps where step i (0-based, s_i → s_{i+1}) uses `netFor(i)`.
    static func loss(
        _ spec: NetworkSpec, x: Matrix<Double>, y: Matrix<Double>, T: Int,
        from start: State<Double>? = nil, startStep: Int = 0,
        netFor: (Int) -> IdealNetwork<Double>
    ) -> Double {
        let n0 = netFor(0)
        var s = start ?? Dynamics.zeroState(n0, batch: x.rows)
        for i in startStep..<T {
            let net = netFor(i)
            s = Dynamics.step(net, Dynamics.context(net, x: x, y: y), s)
        }
        return Dynamics.loss(s, target: y)
    }

    static func perturbed(_ net: IdealNetwork<Double>, weight ci: Int, index j: Int, by h: Double) -> IdealNetwork<
        Double
    > {
        var n = net; n.arrays[ci].weights.storage[j] += h; return n
    }
    static func perturbed(_ net: IdealNetwork<Double>, bias l: Int, index j: Int, by h: Double) -> IdealNetwork<Double>
    {
        var n = net; n.biases[l][j] += h; return n
    }

    static let cases: [(String, NetworkSpec)] = [
        ("P-FC sigm 2h", Fixtures.spec(.prototypical, activation: .sigm)),
        ("P-FC tanh 2h dt 0.5", Fixtures.spec(.prototypical, activation: .tanh, dt: 0.5)),
        ("EB-FC tanh 2h exact", Fixtures.spec(.energyBased, activation: .tanh, dt: 0.3, exact: true)),
        ("EB-FC sigm 2h seed form, clamp", Fixtures.spec(.energyBased, activation: .sigm, dt: 0.2, clamp: true)),
        (
            "toy EB tanh",
            Fixtures.spec(.energyBased, layers: [5, 6, 4], activation: .tanh, dt: 0.2, exact: true, toy: true)
        )
    ]

    /// Total gradient, full (window nil) and truncated (last K+1 steps), every weight and bias.
    @Test(arguments: [0, 1, 2, 3, 4], [nil, 5] as [Int?])
    func totalGradientMatchesFiniteDifferences(caseIndex: Int, window: Int?) {
        let (_, spec) = Self.cases[caseIndex]
        let net = Fixtures.network(spec, scale: 2)
        let (x, y) = Fixtures.batch(spec)
        let T = spec.T
        let w = window ?? T
        let res = BPTT.run(net, Dynamics.context(net, x: x, y: y), window: window)
        let h = 1e-6
        for ci in net.arrays.indices {
            var fd: [Double] = []
            for j in 0..<net.arrays[ci].weights.count {
                let p = Self.perturbed(net, weight: ci, index: j, by: h),
                    m = Self.perturbed(net, weight: ci, index: j, by: -h)
                let lp = Self.loss(spec, x: x, y: y, T: T) { $0 >= T - w ? p : net }
                let lm = Self.loss(spec, x: x, y: y, T: T) { $0 >= T - w ? m : net }
                fd.append((lp - lm) / (2 * h))
            }
            let err = relativeError(res.total.weights[ci].storage, fd)
            #expect(
                err <= 1e-6, "\(Self.cases[caseIndex].0) window \(String(describing: window)) W\(ci): rel err \(err)")
        }
        for l in net.biases.indices {
            var fd: [Double] = []
            for j in net.biases[l].indices {
                let p = Self.perturbed(net, bias: l, index: j, by: h),
                    m = Self.perturbed(net, bias: l, index: j, by: -h)
                let lp = Self.loss(spec, x: x, y: y, T: T) { $0 >= T - w ? p : net }
                let lm = Self.loss(spec, x: x, y: y, T: T) { $0 >= T - w ? m : net }
                fd.append((lp - lm) / (2 * h))
            }
            let err = relativeError(res.total.biases[l], fd)
            #expect(err <= 1e-6, "\(Self.cases[caseIndex].0) b\(l): rel err \(err)")
        }
    }

    /// Per-step partials ∇S(t) = ∂L/∂s_{T−t} and ∇W(t) = ∂L/∂θ_{T−t} for t < K.
    @Test(arguments: [0, 2, 4])
    func perStepPartialsMatchFiniteDifferences(caseIndex: Int) {
        let (name, spec) = Self.cases[caseIndex]
        let net = Fixtures.network(spec, scale: 2)
        let (x, y) = Fixtures.batch(spec)
        let T = spec.T, K = spec.K
        let ctx = Dynamics.context(net, x: x, y: y)
        let res = BPTT.run(net, ctx, record: K)
        // Trajectory for the neuron perturbations.
        var traj: [State<Double>] = [Dynamics.zeroState(net, batch: x.rows)]
        for _ in 0..<T { traj.append(Dynamics.step(net, ctx, traj.last!)) }
        let h = 1e-6
        for t in 0..<K {
            // Weights: perturb only the copy used by transition s_{T−t−1} → s_{T−t}.
            for ci in net.arrays.indices {
                var fd: [Double] = []
                for j in 0..<net.arrays[ci].weights.count {
                    let p = Self.perturbed(net, weight: ci, index: j, by: h),
                        m = Self.perturbed(net, weight: ci, index: j, by: -h)
                    let lp = Self.loss(spec, x: x, y: y, T: T, from: traj[T - t - 1], startStep: T - t - 1) {
                        $0 == T - t - 1 ? p : net
                    }
                    let lm = Self.loss(spec, x: x, y: y, T: T, from: traj[T - t - 1], startStep: T - t - 1) {
                        $0 == T - t - 1 ? m : net
                    }
                    fd.append((lp - lm) / (2 * h))
                }
                let err = relativeError(res.perStep[t].weights[ci].storage, fd)
                #expect(err <= 1e-6, "\(name) t=\(t) W\(ci): rel err \(err)")
            }
            // Neurons: perturb s_{T−t} and run the remaining t steps.
            for l in 0..<net.depth {
                var fd: [Double] = []
                for j in 0..<traj[T - t][l].count {
                    var sp = traj[T - t], sm = traj[T - t]
                    sp[l].storage[j] += h; sm[l].storage[j] -= h
                    let lp = Self.loss(spec, x: x, y: y, T: T, from: sp, startStep: T - t) { _ in net }
                    let lm = Self.loss(spec, x: x, y: y, T: T, from: sm, startStep: T - t) { _ in net }
                    fd.append((lp - lm) / (2 * h))
                }
                let err = relativeError(res.neurons[t][l].storage, fd)
                #expect(err <= 1e-6, "\(name) t=\(t) s\(l + 1): rel err \(err)")
            }
        }
    }
}
