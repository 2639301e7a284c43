import Foundation
import Testing

@testable import EqProp

/// Stochastic pulse trains: the bit-line choice of aihwkit's update management and the count law it gives.
@Suite struct PulseTrainsTests {
    /// Pulse counts of `reps` single-sample updates of a 1 × n array (d = 1, x = `x`), scaled so that
    /// the largest element expects k pulses.
    static func counts(k: Float, x: [Float], bl: Int, managed: Bool, reps: Int, seed: UInt64 = 1) -> [[Float]] {
        let unit: Float = 0.01
        let term = UpdateTerm(
            post: Matrix(rows: 1, cols: 1, storage: [1]), pre: Matrix(rows: 1, cols: x.count, storage: x),
            scale: k * unit / x.map(abs).max()!)
        var rng = RandomStream(seed: seed, stream: "pulse-trains-test")
        return (0..<reps).map { _ in
            var up = [Float](repeating: 0, count: x.count), down = up
            PulseTrains.coincidences(
                [term], bl: bl, blManagement: managed, unit: unit, rows: 1, cols: x.count, rng: &rng, up: &up,
                down: &down)
            #expect(down.allSatisfy { $0 == 0 })
            return up
        }
    }

    static func moments(_ v: [Float]) -> (mean: Double, variance: Double) {
        let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
        return (m, v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(v.count - 1))
    }

    /// With balanced trains the largest element's count is Binomial(BL, k/BL): mean k, variance
    /// k(1 − k/BL). A fixed BL of 31 gives k(1 − k/31); bit-line management picks BL = ⌈k⌉.
    @Test(arguments: [(Float(0.6), false, 31), (0.6, true, 1), (2.5, false, 31), (2.5, true, 3), (11.5, true, 12)])
    func countsFollowTheBinomialLaw(k: Float, managed: Bool, slots: Int) {
        let reps = 40_000
        let c = Self.counts(k: k, x: [1], bl: 31, managed: managed, reps: reps).map { $0[0] }
        let (m, v) = Self.moments(c)
        let p = Double(k) / Double(slots), want = Double(slots) * p * (1 - p)
        #expect(c.allSatisfy { $0 <= Float(slots) }, "a count above BL = \(slots)")
        #expect(abs(m - Double(k)) <= 5 * (want / Double(reps)).squareRoot(), "mean \(m) vs \(k)")
        // Var of a sample variance ≈ 2σ⁴/n plus the kurtosis term; 10 % is > 5 s.e. for these n and p.
        #expect(abs(v / want - 1) <= 0.1, "variance \(v) vs binomial \(want) (BL \(slots))")
    }

    /// Beyond bl, aihwkit caps the input side (p_x = |x_j|/x_max) and saturates the output side:
    /// the largest element fires in every slot, an input at half the maximum in half of them.
    @Test func largeUpdatesCapTheInputSide() {
        let c = Self.counts(k: 40, x: [1, 0.5], bl: 31, managed: true, reps: 4000)
        #expect(c.allSatisfy { $0[0] == 31 })
        let (m, v) = Self.moments(c.map { $0[1] })
        #expect(abs(m - 15.5) < 0.15 && abs(v / 7.75 - 1) < 0.1, "half-input count: mean \(m), variance \(v)")
        // Without management both sides share the saturation: √(40/31) > 1 for the largest, and the
        // half input fires with probability √(40/31)/2 in each of 31 slots.
        let fixed = Self.counts(k: 40, x: [1, 0.5], bl: 31, managed: false, reps: 4000)
        #expect(fixed.allSatisfy { $0[0] == 31 })
        let mf = Self.moments(fixed.map { $0[1] }).mean
        #expect(abs(mf - 31 * (40.0 / 31).squareRoot() / 2) < 0.15, "unmanaged half-input mean \(mf)")
    }
}
