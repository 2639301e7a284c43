import Foundation
import Testing

@testable import EqProp

/// One-sided pairs (aihwkit's OneSidedUnitCell): potentiation only, and the refresh.
@Suite struct OneSidedTests {
    /// A noise-free constant-step device of 100 steps in one-sided pairs.
    static func device(_ f: (inout DeviceSpec) -> Void = { _ in }) -> DeviceSpec {
        var d = DeviceSpec(); d.name = "os"; d.model = .linearStep; d.dwMin = 0.01; d.mapping = .oneSided
        d.programming = .deterministic; d.rounding = .nearest; d.maxPulses = 1000; d.wMax = 1
        f(&d)
        return d
    }

    @Test func eachSignLivesOnItsOwnDeviceAndOnlyPotentiates() {
        let w = Matrix<Float>(rows: 1, cols: 2, storage: [0.3, -0.2])
        let a = CrossbarArray(spec: Self.device(), weights: w, seed: 1, layer: 0)
        let fs = a.fullScale
        // Initial write: W > 0 on G⁺, W < 0 on G⁻, the other device at G_min (to the 0.01 grid of the test's rounding).
        #expect(abs(a.conductances(row: 0, col: 0).0 - 0.3 / fs) < 1e-6 && a.conductances(row: 0, col: 0).1 == 0)
        #expect(a.conductances(row: 0, col: 1).0 == 0 && abs(a.conductances(row: 0, col: 1).1 - 0.2 / fs) < 1e-6)
        #expect(abs(a.weights[0, 0] - 0.3) < 1e-6 && abs(a.weights[0, 1] + 0.2) < 1e-6)
        // Lower W_00 by 5 steps (one device's step is w_fs·0.01): G⁻ climbs 5 steps, G⁺ stays.
        let step = fs * 0.01
        let before = a.conductances(row: 0, col: 0)
        a.update(
            post: Matrix(rows: 1, cols: 1, storage: [1]), pre: Matrix(rows: 1, cols: 2, storage: [-5 * step, 3 * step]),
            scale: 1)
        let after = a.conductances(row: 0, col: 0)
        #expect(after.0 == before.0 && abs(after.1 - 0.05) < 1e-6)
        #expect(abs(a.weights[0, 0] - (0.3 - 5 * step)) < 1e-5)
        // Raise W_01 by 3 steps: G⁺ climbs, G⁻ stays.
        #expect(
            abs(a.conductances(row: 0, col: 1).0 - 0.03) < 1e-6
                && abs(a.conductances(row: 0, col: 1).1 - 0.2 / fs) < 1e-6)
        #expect(a.costs.pulses == 8 && a.costs.refreshes == 0)
    }

    /// A pair whose devices have both climbed is reset and its difference written back.
    @Test func refreshResetsAndRewritesTheDifference() throws {
        let a = CrossbarArray(
            spec: Self.device { $0.resetLevel = 0.02 }, weights: Matrix(rows: 1, cols: 1), seed: 1, layer: 0)
        var s = a.state
        s["g_pos"] = [0.80]; s["g_neg"] = [0.30]
        try a.restore(s)
        let fs = a.fullScale, step = fs * 0.01
        // One more step up on G⁺: 0.81 and 0.30 cross the thresholds (0.75, 0.25): refresh.
        a.update(post: Matrix(rows: 1, cols: 1, storage: [1]), pre: Matrix(rows: 1, cols: 1, storage: [step]), scale: 1)
        let (p, n) = a.conductances(row: 0, col: 0)
        #expect(a.costs.refreshes == 1)
        // G⁻ back at the reset level; G⁺ at the reset level plus the difference 0.51 (51 steps).
        #expect(abs(n - 0.02) < 1e-6 && abs(p - (0.02 + 0.51)) < 1e-5, "after the refresh: \(p), \(n)")
        #expect(abs(a.weights[0, 0] - 0.51 * fs) < 1e-5)
        // Below the thresholds nothing happens.
        s["g_pos"] = [0.80]; s["g_neg"] = [0.10]
        try a.restore(s)
        a.update(post: Matrix(rows: 1, cols: 1, storage: [1]), pre: Matrix(rows: 1, cols: 1, storage: [step]), scale: 1)
        #expect(a.costs.refreshes == 1 && abs(a.conductances(row: 0, col: 0).0 - 0.81) < 1e-6)
    }
}
