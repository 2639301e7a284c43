import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// FFTW spectral-shaping synthesis against the target PSD: slope, variance, corner, dwell times,
/// and correlation at nearby times. N = 4096, Δt = 1 µs; statistics averaged over M traces sized so
/// that 3 standard errors stay inside the tolerance.
@Suite struct NoiseTests {
    static let n = 4096, dt = 1e-6

    static func averagedPeriodogram(_ s: NoiseSynthesizer, traces m: Int, seed: UInt64) -> ([Double], Double) {
        var rng = RandomStream(seed: seed, stream: "noise-test")
        var avg = [Double](repeating: 0, count: n / 2)
        var sumSq = 0.0
        for _ in 0..<m {
            let x = s.trace(using: &rng)
            for v in x { sumSq += Double(v) * Double(v) }
            let p = NoiseSynthesizer.periodogram(x, dt: dt)
            for k in p.indices { avg[k] += p[k] / Double(m) }
        }
        return (avg, sumSq / Double(m * n))
    }

    /// OLS slope of ln P vs ln f over bins k = 10…1000 (two decades).
    static func slope(_ p: [Double]) -> Double {
        let df = 1 / (Double(n) * dt)
        let pts = (10...1000).map { k in (log(Double(k) * df), log(p[k - 1])) }
        let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
        let sxy = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) },
            sxx = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        return sxy / sxx
    }

    @Test(arguments: [(0.8, 64), (1.0, 128), (1.5, 1024)])
    func flickerSlopeAndVariance(gamma: Double, traces: Int) {
        let k = 1e-4
        let s = NoiseSynthesizer(spectrum: .flicker(k: k, gamma: gamma), length: Self.n, dt: Self.dt)
        let (p, variance) = Self.averagedPeriodogram(s, traces: traces, seed: UInt64(gamma * 10))
        let sl = Self.slope(p)
        #expect(abs(sl + gamma) <= 0.05, "γ = \(gamma): fitted slope \(sl)")
        // Analytic band integral ∫_{Δf/2}^{1/(2Δt)} K f^−γ df, written out here independently of the synthesizer.
        let df = 1 / (Double(Self.n) * Self.dt), lo = df / 2, hi = 1 / (2 * Self.dt)
        let band = gamma == 1 ? k * log(hi / lo) : k * (pow(hi, 1 - gamma) - pow(lo, 1 - gamma)) / (1 - gamma)
        #expect(abs(variance / band - 1) <= 0.05, "γ = \(gamma): variance \(variance) vs band integral \(band)")
    }

    @Test func lorentzianCorner() {
        let tau0 = 0.2e-3, tau1 = 0.5e-3
        let fc = (1 / tau0 + 1 / tau1) / (2 * Double.pi)  // 1114 Hz
        // Finer frequency grid (Δt = 20 µs, Δf ≈ 12 Hz ≈ f_c/90) so the corner is well resolved.
        let dt = 20e-6
        let s = NoiseSynthesizer(spectrum: .lorentzian(amplitude: 1, tau0: tau0, tau1: tau1), length: Self.n, dt: dt)
        var rng = RandomStream(seed: 4, stream: "lorentz")
        var avg = [Double](repeating: 0, count: Self.n / 2)
        for _ in 0..<200 {
            let p = NoiseSynthesizer.periodogram(s.trace(using: &rng), dt: dt)
            for k in p.indices { avg[k] += p[k] / 200 }
        }
        // Fit ln P = ln S0 − ln(1 + (f/fc)²) over (0, 20 f_c] by a log-grid search on f_c.
        let df = 1 / (Double(Self.n) * dt)
        let bins = (1...Int(20 * fc / df)).map { (Double($0) * df, log(avg[$0 - 1])) }
        var best = (err: Double.infinity, fc: 0.0)
        var f = fc / 3
        while f < fc * 3 {
            let r = bins.map { $0.1 + log(1 + ($0.0 / f) * ($0.0 / f)) }
            let c = r.reduce(0, +) / Double(r.count)
            let e = r.reduce(0) { $0 + ($1 - c) * ($1 - c) }
            if e < best.err { best = (e, f) }
            f *= 1.002
        }
        #expect(abs(best.fc / fc - 1) <= 0.10, "fitted corner \(best.fc) Hz vs \(fc) Hz")
    }

    @Test func telegraphDwellTimesAndOccupancy() {
        let p = TelegraphProcess(amplitude: 1, tau0: 2e-4, tau1: 5e-4)
        var rng = RandomStream(seed: 8, stream: "rtn")
        let (z, o) = p.dwellTimes(count: 4000, using: &rng)
        let m0 = z.reduce(0, +) / 4000, m1 = o.reduce(0, +) / 4000
        #expect(abs(m0 / 2e-4 - 1) <= 0.05 && abs(m1 / 5e-4 - 1) <= 0.05, "dwell means \(m0), \(m1)")
        // Grid-sampled Markov chain: stationary occupancy π₁ = τ₁/(τ₀+τ₁) and lag-1 correlation e^{−λΔt}.
        let dt = 2e-5
        let s = p.states(count: 400_000, dt: dt, using: &rng).map(Double.init)
        let pi1 = s.reduce(0, +) / Double(s.count)
        #expect(abs(pi1 - 5.0 / 7.0) <= 0.02, "occupancy \(pi1)")
        var c = 0.0, v = 0.0
        for i in 0..<(s.count - 1) { c += (s[i] - pi1) * (s[i + 1] - pi1); v += (s[i] - pi1) * (s[i] - pi1) }
        let rho = c / v, expected = exp(-(1 / 2e-4 + 1 / 5e-4) * dt)
        #expect(abs(rho - expected) <= 0.01, "lag-1 correlation \(rho) vs \(expected)")
    }

    /// Samples m steps apart are correlated as the spectrum predicts: Σ P_k cos(2πkm/N)/Σ P_k.
    @Test func nearbyTimesAreCorrelatedAsPredicted() {
        let s = NoiseSynthesizer(spectrum: .flicker(k: 1e-4, gamma: 1), length: Self.n, dt: Self.dt)
        var rng = RandomStream(seed: 12, stream: "corr")
        let lags = [1, 10, 100, 1000]
        var num = [Double](repeating: 0, count: lags.count), den = 0.0
        for _ in 0..<1000 {
            let x = s.trace(using: &rng).map(Double.init)
            // 16 start points per trace, all within the wrap-free half (start + lag < N).
            for start in stride(from: 0, to: Self.n / 2, by: 128) {
                den += x[start] * x[start]
                for (i, m) in lags.enumerated() { num[i] += x[start] * x[start + m] }
            }
        }
        for (i, m) in lags.enumerated() {
            let emp = num[i] / den, pred = s.correlation(lag: m)
            #expect(abs(emp - pred) <= 0.03, "lag \(m): \(emp) vs \(pred)")
        }
        #expect(s.correlation(lag: 1) > 0.7 && s.correlation(lag: 1000) < 0.1)
    }
}
