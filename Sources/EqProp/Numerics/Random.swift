import Foundation
import RealModule

/// Seeded random streams.
///
/// Generator: **xoshiro256\*\*** (Blackman & Vigna 2018), state seeded by **SplitMix64**. Every
/// random quantity in the library draws from a stream derived from the user's seed and a fixed
/// stream name (`RandomStream(seed:stream:)`), so the same seed gives the same numbers on every run
/// and on every machine, independent of thread count, and adding a new stream never shifts an old one.
///
/// Streams used (documented here so users can reason about reproducibility):
/// - `"init"`: weight and bias initialisation, U(±1/√fan_in).
/// - `"shuffle/<epoch>"`: the permutation of the training set in that epoch.
/// - `"beta-sign/<epoch>"`: the per-batch sign of β for the random-sign EP variant.
/// - `"subset"`: selection of a training subset (`--train-subset`).
/// - `"synthetic"`: the synthetic test data set.
public struct RandomStream: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A stream from a raw 64-bit seed.
    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if (s0 | s1 | s2 | s3) == 0 { s0 = 1 }
    }

    /// A named, independent stream of a user seed: the name is hashed (FNV-1a) into the seed.
    public init(seed: UInt64, stream: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in stream.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        var sm = SplitMix64(state: seed ^ h)
        self.init(seed: sm.next())
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    /// The next 64-bit output of xoshiro256\*\* (the `RandomNumberGenerator` requirement).
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = RandomStream.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = RandomStream.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [lo, hi).
    @inline(__always)
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// Standard normal by the Marsaglia polar method (exact, no tables).
    private var spare: Double? = nil
    /// A standard normal N(0, 1) sample in Double (Marsaglia polar method: each accepted point gives
    /// two values, the second returned by the next call).
    public mutating func normal() -> Double {
        if let s = spare { spare = nil; return s }
        while true {
            let u = 2 * uniform() - 1, v = 2 * uniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let f = (-2 * _log(s) / s).squareRoot()
                spare = v * f
                return u * f
            }
        }
    }

    /// Fills a buffer with independent N(0, σ²) Float samples by the ziggurat method (`Ziggurat`):
    /// one 64-bit word per sample on the fast path (≈ 98.8 % of draws), more words on the rare
    /// wedge and tail draws. The same stream and σ give the same values. This is the generator of
    /// every per-read and per-write Gaussian of the crossbar (white read noise, c2c, neuron noise).
    public mutating func fillNormal(_ p: UnsafeMutableBufferPointer<Float>, sigma: Float) {
        let t = Ziggurat.tables
        t.ku.withUnsafeBufferPointer { k in
            t.wf.withUnsafeBufferPointer { w in
                // The generator state lives in locals on the fast path (a call to the slow path
                // through `self` would otherwise keep it in memory); same words, same order as `next()`.
                var a = s0, b = s1, c = s2, d = s3
                for i in 0..<p.count {
                    let word = RandomStream.rotl(b &* 5, 7) &* 9
                    let t17 = b << 17
                    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t17; d = RandomStream.rotl(d, 45)
                    let hz = Int32(truncatingIfNeeded: word >> 32), iz = Int(word & 127)
                    // Fast path: the point lies inside the layer's rectangle, under the density.
                    if hz.magnitude < k[iz] {
                        p[i] = sigma * (Float(hz) * w[iz])
                    } else {
                        s0 = a; s1 = b; s2 = c; s3 = d
                        p[i] = sigma * zigguratSlow(hz, iz, t)
                        a = s0; b = s1; c = s2; d = s3
                    }
                }
                s0 = a; s1 = b; s2 = c; s3 = d
            }
        }
    }

    /// The ziggurat's rejection steps: the wedge of layer i (accept under e^{−x²/2}), the base
    /// layer's tail beyond r (Marsaglia's exponential method), or a fresh draw.
    mutating func zigguratSlow(_ hz0: Int32, _ iz0: Int, _ t: Ziggurat.Tables) -> Float {
        var hz = hz0, iz = iz0
        while true {
            let x = Double(hz) * t.w[iz]
            if iz == 0 {
                var xt: Double, y: Double
                repeat {
                    xt = -Double.log(openUniform()) / Ziggurat.r
                    y = -Double.log(openUniform())
                } while y + y < xt * xt
                return Float(hz > 0 ? Ziggurat.r + xt : -Ziggurat.r - xt)
            }
            if t.f[iz] + uniform() * (t.f[iz - 1] - t.f[iz]) < Double.exp(-0.5 * x * x) { return Float(x) }
            let word = next()
            hz = Int32(truncatingIfNeeded: word >> 32); iz = Int(word & 127)
            if hz.magnitude < t.ku[iz] { return Float(Double(hz) * t.w[iz]) }
        }
    }

    /// Uniform in (0, 1] (never 0, so its logarithm is finite).
    @inline(__always)
    mutating func openUniform() -> Double { Double((next() >> 11) + 1) * 0x1p-53 }

    /// Fills a buffer with uniforms in [0, 1) of 24 bits, two per 64-bit word (bits 40–63, then 8–31).
    public mutating func fillUniform(_ p: UnsafeMutableBufferPointer<Float>) {
        let n = p.count
        // The state in locals, as in `fillNormal`: same words, same order as `next()`.
        var a = s0, b = s1, c = s2, d = s3
        defer { s0 = a; s1 = b; s2 = c; s3 = d }
        var i = 0
        while i < n {
            let w = RandomStream.rotl(b &* 5, 7) &* 9
            let t17 = b << 17
            c ^= a; d ^= b; b ^= c; a ^= d; c ^= t17; d = RandomStream.rotl(d, 45)
            p[i] = Float(w >> 40) * 0x1p-24
            if i &+ 1 < n { p[i &+ 1] = Float((w >> 8) & 0xFF_FFFF) * 0x1p-24 }
            i &+= 2
        }
    }

    /// Uniform integer in 0..<n (Lemire's unbiased method via the standard library).
    @inline(__always)
    public mutating func below(_ n: Int) -> Int { Int.random(in: 0..<n, using: &self) }

    /// A uniformly random permutation of 0..<n (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = below(i + 1)
            p.swapAt(i, j)
        }
        return p
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Double.log(x) }

/// SplitMix64 (Steele, Lea & Flood 2014): used only to expand seeds into xoshiro state.
public struct SplitMix64: Sendable {
    /// The 64-bit state, advanced by 0x9e3779b97f4a7c15 on every draw.
    public var state: UInt64
    /// A generator seeded with `state`.
    public init(state: UInt64) { self.state = state }
    /// Advances the state and returns its mixed 64-bit output.
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Standard normals drawn from a stream in blocks of 1024 (`fillNormal`) and handed out one at a
/// time, for loops that need a varying number of them; the values follow the stream's order.
struct NormalPool {
    private var buffer = [Float](repeating: 0, count: 1024)
    private var index = 1024

    @inline(__always)
    mutating func next(_ rng: inout RandomStream) -> Float {
        if index == buffer.count {
            buffer.withUnsafeMutableBufferPointer { rng.fillNormal($0, sigma: 1) }
            index = 0
        }
        defer { index &+= 1 }
        return buffer[index]
    }
}

/// Tables of the 128-layer ziggurat for the standard normal (Marsaglia & Tsang, J. Stat. Softw. 5(8),
/// 2000): layers of equal area v under e^{−x²/2}, base layer with the tail beyond r. A draw takes a
/// signed 32-bit j and a layer i from *separate* bits of one 64-bit word (Doornik 2005: sharing the
/// bits correlates layer and value), returns j·w_i when |j| < k_i, else runs the rejection steps.
enum Ziggurat {
    static let r = 3.442_619_855_899
    static let v = 9.912_563_035_262_17e-3
    struct Tables: Sendable {
        /// k_i = ⌊2³¹·x_{i−1}/x_i⌋ (rectangle fraction), w_i = x_i/2³¹, f_i = e^{−x_i²/2}.
        let ku: [UInt32], w: [Double], f: [Double]
        /// w_i in single precision for the fast path.
        let wf: [Float]
    }
    static let tables: Tables = {
        let m = 2_147_483_648.0, n = 128
        var k = [Double](repeating: 0, count: n), w = k, f = k
        var dn = r, tn = r
        let q = v / Double.exp(-0.5 * dn * dn)
        k[0] = dn / q * m; k[1] = 0
        w[0] = q / m; w[n - 1] = dn / m
        f[0] = 1; f[n - 1] = Double.exp(-0.5 * dn * dn)
        for i in stride(from: n - 2, through: 1, by: -1) {
            dn = (-2 * Double.log(v / dn + Double.exp(-0.5 * dn * dn))).squareRoot()
            k[i + 1] = dn / tn * m
            tn = dn
            f[i] = Double.exp(-0.5 * dn * dn)
            w[i] = dn / m
        }
        return Tables(ku: k.map { UInt32($0.rounded(.down)) }, w: w, f: f, wf: w.map { Float($0) })
    }()
}
