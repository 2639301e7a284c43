import Testing

@testable import EqProp
@testable import EqPropRuns

/// The GDU property (seed paper, Theorem 1) on exact-primitive models, in Double.
@Suite struct GDUTests {
    /// EB-FC, tanh, no clamp, exact Φ: free phase converged, β = 1e-4 → per-step error ≤ 1e-3.
    static func ebSpec(beta: Double) -> NetworkSpec {
        Fixtures.spec(
            .energyBased, layers: [8, 10, 9, 5], activation: .tanh, dt: 0.2, exact: true, T: 1500, K: 12, beta: beta)
    }

    @Test func energyBasedMatchesBPTTPerStep() throws {
        let spec = Self.ebSpec(beta: 1e-4)
        let net = Fixtures.network(spec)
        let (x, y) = Fixtures.batch(spec, batch: 4)
        let r = GDU.check(net, x: x, y: y)
        #expect(r.freePhaseResidual < 1e-12, "free phase not converged: \(r.freePhaseResidual)")
        for layer in r.layers {
            #expect(layer.agreement.relmse <= 1e-3, "\(layer.layer): RelMSE \(layer.agreement.relmse)")
            for (t, e) in layer.perStepRelativeError.enumerated() {
                if let e {
                    #expect(e <= 1e-3, "\(layer.layer) t=\(t): \(e)")
                } else {
                    // BPTT is exactly 0 there (the output cannot reach this layer in t steps): EP too.
                    #expect(layer.perStepNormEP[t] <= 1e-8, "\(layer.layer) t=\(t): |ΔEP| = \(layer.perStepNormEP[t])")
                }
            }
        }
    }

    /// The error is O(β): ×10 in β gives ×5…×20 in error.
    @Test func energyBasedErrorIsLinearInBeta() throws {
        func meanError(_ beta: Double) -> Double {
            let spec = Self.ebSpec(beta: beta)
            let (x, y) = Fixtures.batch(spec, batch: 4)
            let r = GDU.check(Fixtures.network(spec), x: x, y: y)
            let errs = r.layers.flatMap { $0.perStepRelativeError.compactMap { $0 } }
            return errs.reduce(0, +) / Double(errs.count)
        }
        let e3 = meanError(1e-3), e2 = meanError(1e-2)
        let ratio = e2 / e3
        #expect(ratio >= 5 && ratio <= 20, "error ratio for ×10 β: \(ratio) (\(e3) → \(e2))")
    }

    /// P-FC with σ = identity is an exact gradient system: the same bound holds.
    @Test func prototypicalIdentityMatchesBPTT() throws {
        // Small weights so the linear dynamics contract to a fixed point.
        let spec = Fixtures.spec(.prototypical, layers: [8, 10, 5], activation: .identity, T: 300, K: 10, beta: 1e-4)
        let net = Fixtures.network(spec, scale: 0.5)
        let (x, y) = Fixtures.batch(spec, batch: 4)
        let r = GDU.check(net, x: x, y: y)
        #expect(r.freePhaseResidual < 1e-12, "free phase not converged: \(r.freePhaseResidual)")
        for layer in r.layers {
            #expect(layer.agreement.relmse <= 1e-3, "\(layer.layer): RelMSE \(layer.agreement.relmse)")
            // Per step, the O(β) term ΔsᵀΔs/β of the bilinear ∂Φ/∂W is relatively larger at the steps
            // where the reference is small (the layers alternate with dt = 1); it stays O(β).
            for (t, e) in layer.perStepRelativeError.enumerated() {
                if let e { #expect(e <= 5e-3, "\(layer.layer) t=\(t): \(e)") }
            }
        }
    }

    /// Symmetric nudging has O(β²) bias: at the same β its error is far below one-sided nudging.
    @Test func symmetricNudgingReducesBias() throws {
        var spec = Self.ebSpec(beta: 1e-2)
        let (x, y) = Fixtures.batch(spec, batch: 4)
        func meanRel(_ s: NetworkSpec) -> Double {
            let r = GDU.check(Fixtures.network(s), x: x, y: y)
            let e = r.layers.flatMap { $0.perStepRelativeError.compactMap { $0 } }
            return e.reduce(0, +) / Double(e.count)
        }
        let one = meanRel(spec)
        spec.nudging = .symmetric
        let sym = meanRel(spec)
        #expect(sym < one / 10, "symmetric \(sym) vs one-sided \(one)")
    }
}
