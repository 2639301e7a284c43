import CFFTW
import Foundation

/// One-sided power spectral densities of read noise (units: (relative conductance)²/Hz).
public enum NoiseSpectrum: Sendable, Equatable {
    /// Flicker noise S(f) = K / f^γ (Hooge; multiplicative on G).
    case flicker(k: Double, gamma: Double)
    /// Random telegraph noise of one trap (Machlup): amplitude ΔG, mean dwell times τ₀, τ₁ (s).
    /// S(f) = 4ΔG² / [(τ₀+τ₁)((1/τ₀+1/τ₁)² + (2πf)²)], corner f_c = (1/τ₀+1/τ₁)/(2π).
    case lorentzian(amplitude: Double, tau0: Double, tau1: Double)

    /// S(f), the one-sided power spectral density at frequency f (Hz).
    public func density(_ f: Double) -> Double {
        switch self {
        case let .flicker(k, g): return k / pow(f, g)
        case let .lorentzian(a, t0, t1):
            let l = 1 / t0 + 1 / t1, w = 2 * Double.pi * f
            return 4 * a * a / ((t0 + t1) * (l * l + w * w))
        }
    }

    /// ∫_{f1}^{f2} S(f) df in closed form.
    public func integral(_ f1: Double, _ f2: Double) -> Double {
        guard f2 > f1 else { return 0 }
        switch self {
        case let .flicker(k, g):
            if abs(g - 1) < 1e-12 { return k * log(f2 / f1) }
            return k * (pow(f2, 1 - g) - pow(f1, 1 - g)) / (1 - g)
        case let .lorentzian(a, t0, t1):
            let l = 1 / t0 + 1 / t1
            // ∫ 4a²/((t0+t1)(l² + (2πf)²)) df = 4a²/((t0+t1)·2π·l) · atan(2πf/l)
            let c = 4 * a * a / ((t0 + t1) * 2 * Double.pi * l)
            return c * (atan(2 * Double.pi * f2 / l) - atan(2 * Double.pi * f1 / l))
        }
    }

    /// Corner frequency of the Lorentzian (Hz).
    public var corner: Double? {
        if case let .lorentzian(_, t0, t1) = self { return (1 / t0 + 1 / t1) / (2 * Double.pi) }
        return nil
    }
}

/// Gaussian noise traces with a prescribed spectrum, synthesized with FFTW by spectral shaping
/// (Timmer & König 1995): each positive-frequency bin k of an N-point grid (spacing Δt, Δf = 1/(NΔt))
/// gets a complex coefficient with random amplitude *and* phase, X_k = (N/2)·√P_k·(a + ib), a, b ~ N(0,1),
/// the Nyquist bin a real N·√P_{N/2}·a, DC zero; the trace is the unnormalized c2r transform ÷ N.
///
/// P_k is the exact integral of S over the bin [f_k − Δf/2, f_k + Δf/2] (half a bin at Nyquist), so
/// the trace variance is exactly Σ P_k = ∫_{Δf/2}^{1/(2Δt)} S(f) df — a closed-form band integral
/// (point-sampling S at f_k would overshoot it by 8 % for 1/f and 31 % for 1/f^1.5 at N = 4096).
/// The synthesized trace is periodic; callers use at most the first half (`usable`) so that no lag
/// they see wraps around.
public final class NoiseSynthesizer: @unchecked Sendable {
    /// Trace length N in samples (even).
    public let length: Int
    /// Sample spacing Δt (s).
    public let dt: Double
    /// The spectrum the traces are shaped to.
    public let spectrum: NoiseSpectrum
    /// √P_k for k = 0…N/2.
    let amplitude: [Double]
    private let plan: OpaquePointer
    private let spectrumBuffer: UnsafeMutablePointer<fftwf_complex>
    private let traceBuffer: UnsafeMutablePointer<Float>
    /// Serializes use of the plan's buffers (FFTW execution on one plan's arrays is not reentrant).
    private let lock = NSLock()
    private static let plannerLock = NSLock()

    /// - Parameters: `length` N (even), `dt` the sample spacing in seconds.
    public init(spectrum: NoiseSpectrum, length: Int, dt: Double) {
        precondition(length >= 4 && length % 2 == 0, "trace length must be even and ≥ 4")
        self.length = length; self.dt = dt; self.spectrum = spectrum
        let df = 1 / (Double(length) * dt)
        var amp = [Double](repeating: 0, count: length / 2 + 1)
        for k in 1...(length / 2) {
            let lo = (Double(k) - 0.5) * df
            let hi = k == length / 2 ? Double(k) * df : (Double(k) + 0.5) * df
            amp[k] = spectrum.integral(lo, hi).squareRoot()
        }
        amplitude = amp
        spectrumBuffer = fftwf_alloc_complex(length / 2 + 1)!
        traceBuffer = fftwf_alloc_real(length)!
        Self.plannerLock.lock()
        plan = fftwf_plan_dft_c2r_1d(Int32(length), spectrumBuffer, traceBuffer, UInt32(FFTW_ESTIMATE))
        Self.plannerLock.unlock()
    }

    deinit {
        Self.plannerLock.lock()
        fftwf_destroy_plan(plan)
        Self.plannerLock.unlock()
        fftwf_free(spectrumBuffer)
        fftwf_free(traceBuffer)
    }

    /// The variance every synthesized sample has: Σ_k P_k = ∫_{Δf/2}^{1/(2Δt)} S df.
    public var variance: Double { amplitude.reduce(0) { $0 + $1 * $1 } }

    /// Normalized autocorrelation the synthesized process has at lag m samples: Σ P_k cos(2πkm/N) / Σ P_k.
    public func correlation(lag m: Int) -> Double {
        var num = 0.0
        for k in 1..<amplitude.count {
            num += amplitude[k] * amplitude[k] * cos(2 * Double.pi * Double(k * m) / Double(length))
        }
        return num / variance
    }

    /// Samples free of wrap-around: the first half of the period.
    public var usable: Int { length / 2 }

    /// A new full-period trace (N samples).
    public func trace(using rng: inout RandomStream) -> [Float] {
        let n = length, half = n / 2
        lock.lock(); defer { lock.unlock() }
        // Independent N(0,1) real and imaginary parts for bins 1…half−1, a real one for Nyquist.
        var g = [Float](repeating: 0, count: 2 * half - 1)
        g.withUnsafeMutableBufferPointer { rng.fillNormal($0, sigma: 1) }
        spectrumBuffer[0] = (0, 0)
        for k in 1..<half {
            let s = Float(Double(half) * amplitude[k])
            spectrumBuffer[k] = (s * g[2 * k - 2], s * g[2 * k - 1])
        }
        spectrumBuffer[half] = (Float(Double(n) * amplitude[half]) * g[2 * half - 2], 0)
        fftwf_execute(plan)
        let inv = 1 / Float(n)
        return (0..<n).map { traceBuffer[$0] * inv }
    }

    /// One-sided periodogram (density units) of a trace: P̂(f_k) = (2Δt/N)|X_k|², k = 1…N/2.
    public static func periodogram(_ x: [Float], dt: Double) -> [Double] {
        let n = x.count
        let inBuf = fftw_alloc_real(n)!, outBuf = fftw_alloc_complex(n / 2 + 1)!
        defer { fftw_free(inBuf); fftw_free(outBuf) }
        plannerLock.lock()
        let p = fftw_plan_dft_r2c_1d(Int32(n), inBuf, outBuf, UInt32(FFTW_ESTIMATE))
        plannerLock.unlock()
        defer { plannerLock.lock(); fftw_destroy_plan(p); plannerLock.unlock() }
        for i in 0..<n { inBuf[i] = Double(x[i]) }
        fftw_execute(p)
        return (1...(n / 2)).map { k in
            let c = outBuf[k]
            return 2 * dt / Double(n) * (c.0 * c.0 + c.1 * c.1)
        }
    }
}

/// Two-state random telegraph (Markov) trace sampled on a grid: exact transition probabilities over
/// one step Δt (π₀ = τ₀/(τ₀+τ₁), λ = 1/τ₀ + 1/τ₁, P(0→0) = π₀ + π₁e^{−λΔt}, P(1→1) = π₁ + π₀e^{−λΔt}).
public struct TelegraphProcess: Sendable {
    /// Mean dwell times τ₀, τ₁ (s) in states 0 and 1, and the trap's amplitude ΔG.
    public let tau0: Double, tau1: Double, amplitude: Double
    /// A trap of amplitude ΔG and mean dwell times τ₀, τ₁ (s).
    public init(amplitude: Double, tau0: Double, tau1: Double) {
        self.amplitude = amplitude; self.tau0 = tau0; self.tau1 = tau1
    }

    /// States (0/1) at times 0, Δt, …; the first state is drawn from the stationary distribution.
    public func states(count: Int, dt: Double, using rng: inout RandomStream) -> [UInt8] {
        let pi0 = tau0 / (tau0 + tau1), pi1 = 1 - pi0
        let e = exp(-(1 / tau0 + 1 / tau1) * dt)
        let stay0 = pi0 + pi1 * e, stay1 = pi1 + pi0 * e
        var s: UInt8 = rng.uniform() < pi0 ? 0 : 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            out[i] = s
            let u = rng.uniform()
            s = s == 0 ? (u < stay0 ? 0 : 1) : (u < stay1 ? 1 : 0)
        }
        return out
    }

    /// Event-driven dwell times (exponential with means τ₀, τ₁), alternating from state 0.
    public func dwellTimes(count: Int, using rng: inout RandomStream) -> (zero: [Double], one: [Double]) {
        var z: [Double] = [], o: [Double] = []
        for _ in 0..<count {
            z.append(-tau0 * log(1 - rng.uniform()))
            o.append(-tau1 * log(1 - rng.uniform()))
        }
        return (z, o)
    }
}
