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

    /// Fills a buffer with independent N(0, σ²) Float samples (Marsaglia polar method in single
    /// precision; the same stream and σ give the same values).
    public mutating func fillNormal(_ p: UnsafeMutableBufferPointer<Float>, sigma: Float) {
        var i = 0
        let n = p.count
        while i < n {
            let u = Float(next() >> 40) * 0x1p-23 - 1, v = Float(next() >> 40) * 0x1p-23 - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let f = sigma * (-2 * Foundation.log(s) / s).squareRoot()
            p[i] = u * f
            if i + 1 < n { p[i + 1] = v * f }
            i += 2
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
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
