import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// Conductance drift, the 1/f wander and global drift compensation against their closed forms.
@Suite struct DriftTests {
    /// A fine noise-free device with a 1–100 µS range, and an array of it holding random weights.
    static func array(_ f: (inout DeviceSpec) -> Void, rows: Int = 64, cols: Int = 64) -> CrossbarArray {
        var d = DeviceSpec(); d.name = "drift"; d.model = .linearStep; d.dwMin = 1e-4; d.gMin = 1e-6; d.gMax = 1e-4
        d.programming = .deterministic; d.rounding = .stochastic
        f(&d)
        var rng = RandomStream(seed: 9, stream: "w")
        let w = Matrix<Float>(
            rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in Float(rng.uniform() - 0.5) * 0.5 })
        return CrossbarArray(spec: d, weights: w, seed: 1, layer: 0)
    }

    /// Conductances (S) of every device of both halves of the pairs.
    static func siemens(_ a: CrossbarArray) -> [Double] {
        let c = a.store.conductances!, g = a.spec.gMax - a.spec.gMin
        return (c.uPos + c.uNeg).map { a.spec.gMin + Double($0) * g }
    }

    @Test func meanConductanceFollowsThePowerLaw() throws {
        let t0 = 20.0, times = [1.0, 3600, 86_400, 3.15e7]
        // One ν for every device: each conductance is exactly G₀·((t + t₀)/t₀)^(−ν).
        let a = Self.array {
            $0.driftNu = 0.05; $0.driftT0 = t0
        }
        let ref = a.state, g0 = Self.siemens(a)
        for t in times {
            try a.age(to: t, from: ref, draw: 1, compensate: false)
            let f = pow((t + t0) / t0, -0.05)
            for (g, before) in zip(Self.siemens(a), g0) { #expect(abs(g / (before * f) - 1) < 1e-4) }
        }
        // ν spread per device, ν = |ν̄ + σξ|: the mean factor is the log-normal mean exp(−ν̄L + σ²L²/2),
        // L = ln((t + t₀)/t₀) (ν̄ = 3σ: the fold at 0 changes it by < 1e-4).
        let b = Self.array(
            {
                $0.driftNu = 0.06; $0.driftNuDtod = 0.02; $0.driftT0 = t0
            }, rows: 64, cols: 128)
        let refB = b.state, gB = Self.siemens(b)
        for t in times {
            try b.age(to: t, from: refB, draw: 1, compensate: false)
            let ratios = zip(Self.siemens(b), gB).map { $0 / $1 }
            let mean = ratios.reduce(0, +) / Double(ratios.count)
            let l = log((t + t0) / t0), want = exp(-0.06 * l + 0.0004 * l * l / 2)
            let sd = (ratios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(ratios.count - 1)).squareRoot()
            #expect(
                abs(mean - want) <= 5 * sd / Double(ratios.count).squareRoot() + 1e-6,
                "t = \(t): mean factor \(mean) vs \(want)")
        }
    }

    /// The 1/f wander: a relative σ of √(K·ln((t + t_read)/(2·t_read))) at time t, none before t_read.
    @Test func wanderGrowsAsTheFlickerLawImplies() throws {
        let k = 1e-3, tRead = 1e-6
        let a = Self.array(
            {
                $0.flickerK = k; $0.tStep = tRead
            }, rows: 64, cols: 128)
        let ref = a.state, g0 = Self.siemens(a)
        #expect(Drift.wander(flickerK: k, t: 0.5e-6, tRead: tRead) == 0)
        for t in [1e-3, 10, 1e5] {
            try a.age(to: t, from: ref, draw: 2, compensate: false)
            let dev = zip(Self.siemens(a), g0).map { $0 / $1 - 1 }
            let n = Double(dev.count), m = dev.reduce(0, +) / n
            let sd = (dev.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot()
            let want = (k * log((t + tRead) / (2 * tRead))).squareRoot()
            #expect(abs(sd / want - 1) <= 5 / (2 * n).squareRoot(), "t = \(t): σ \(sd) vs \(want)")
            #expect(abs(m) <= 5 * want / n.squareRoot())
        }
        // Draws differ; the same draw repeats.
        try a.age(to: 10, from: ref, draw: 2, compensate: false)
        let again = Self.siemens(a)
        try a.age(to: 10, from: ref, draw: 3, compensate: false)
        #expect(again != Self.siemens(a))
        try a.age(to: 10, from: ref, draw: 2, compensate: false)
        #expect(again == Self.siemens(a))
    }

    /// With one ν everywhere the weights shrink by the drift factor and compensation restores the read
    /// exactly; with a spread of ν it restores the mean response.
    @Test func compensationRestoresTheRead() throws {
        var rng = RandomStream(seed: 3, stream: "x")
        let x = Matrix<Float>(rows: 8, cols: 64, storage: (0..<512).map { _ in Float(rng.uniform()) })
        let a = Self.array { $0.driftNu = 0.08 }
        let ref = a.state
        let y0 = a.forwardRead(x), t = 86_400.0, f = Float(pow((t + 20) / 20, -0.08))
        try a.age(to: t, from: ref, draw: 1, compensate: false)
        let drifted = a.forwardRead(x)
        for k in 0..<y0.count {
            #expect(abs(drifted.storage[k] - f * y0.storage[k]) <= 1e-4 * abs(y0.storage[k]) + 1e-6)
        }
        try a.age(to: t, from: ref, draw: 1, compensate: true)
        let restored = a.forwardRead(x)
        for k in 0..<y0.count { #expect(abs(restored.storage[k] - y0.storage[k]) <= 1e-4 * abs(y0.storage[k]) + 1e-6) }
        // Transposed reads get the same gain.
        let back = a.transposedRead(Matrix(rows: 1, cols: 64, repeating: 1))
        try a.restore(ref)
        let back0 = a.transposedRead(Matrix(rows: 1, cols: 64, repeating: 1))
        for k in 0..<back0.count {
            #expect(abs(back.storage[k] - back0.storage[k]) <= 1e-4 * abs(back0.storage[k]) + 1e-6)
        }

        let b = Self.array {
            $0.driftNu = 0.08; $0.driftNuDtod = 0.03
        }
        let refB = b.state, yB = b.forwardRead(x)
        func meanAbs(_ m: Matrix<Float>) -> Float { m.storage.map(abs).reduce(0, +) / Float(m.count) }
        try b.age(to: t, from: refB, draw: 1, compensate: false)
        let lost = meanAbs(b.forwardRead(x)) / meanAbs(yB)
        try b.age(to: t, from: refB, draw: 1, compensate: true)
        let kept = meanAbs(b.forwardRead(x)) / meanAbs(yB)
        // The mean drift factor at one day is about (86420/20)^−0.08 = 0.51, but the pair's two ν differ,
        // which adds a random part to W: measured ×0.65 drifted, ×0.973 compensated.
        #expect(lost < 0.8 && abs(kept - 1) < 0.05, "mean |y|: drifted ×\(lost), compensated ×\(kept)")
    }

    @Test(arguments: [
        ("1h,1s", "times must be increasing ('1s' is not after '1h')"), ("1x", "'1x' is not a time"),
        ("0s", "'0s' must be in (0, 1e10] s"), ("1s,,1h", "empty time"), ("1e11", "must be in (0, 1e10] s")
    ])
    func badTimesNameTheProblem(text: String, message: String) {
        #expect(throws: InputError.self) { _ = try Inference.parseTimes(text) }
        do { _ = try Inference.parseTimes(text) } catch let e as InputError {
            #expect(e.message.contains(message), "\(e.message)")
        } catch {}
    }

    @Test func timesParseWithUnits() throws {
        let t = try Inference.parseTimes("1s, 90, 2m,1h,1d,1w,1y")
        #expect(t.map(\.seconds) == [1, 90, 120, 3600, 86_400, 604_800, 31_557_600])
        #expect(t.map(\.label) == ["1s", "90", "2m", "1h", "1d", "1w", "1y"])
    }
}
