/// Branch-free single-precision kernels that the compiler vectorizes on the baseline x86-64 target
/// (SSE2), unlike calls into libm. Used on the Float training path only; Double (verification) uses
/// the exact libm functions.
public enum FastMath {
    /// e^x for Float, |relative error| ≤ 2e-7 on [−87, 88] (Cody–Waite range reduction x = n·ln2 + r,
    /// Cephes' degree-6 minimax polynomial for e^r on |r| ≤ ln2/2, 2^n built from the exponent bits).
    /// Inputs are clamped to [−87.3, 88], so the result is finite and normal.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87.3), 88.0)
        // Round x·log2(e) to nearest with the 1.5·2^23 trick (SSE2 has no packed round instruction).
        // The integer n also sits in the low mantissa bits of (x·log2e + magic): reading it from the
        // bit pattern avoids a checked Float→Int conversion, which would block vectorization.
        let magic: Float = 12_582_912
        let shifted = xc * 1.442_695_04 + magic
        let n = shifted - magic
        let ni = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let r = (xc - n * 0.693_359_375) + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * r * r + r + 1
        let scale = Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
        return er * scale
    }

    /// √x for x ≥ 0 (|relative error| ≤ 3e-7; 0 gives 0): x·(1/√x) with the reciprocal root from the
    /// exponent-halving bit trick refined by three Newton steps. `Float.squareRoot()` compiles to a
    /// libm call guarded for errno on Linux, which keeps loops over it scalar; this one vectorizes.
    @inline(__always)
    public static func sqrt(_ x: Float) -> Float {
        var y = Float(bitPattern: 0x5F37_59DF &- (x.bitPattern >> 1))
        let h = 0.5 * x
        y = y * (1.5 - h * y * y)
        y = y * (1.5 - h * y * y)
        y = y * (1.5 - h * y * y)
        return x * y
    }

    /// In place: x ← 1/(1 + e^{−4(x − ½)}) (the seed's `sigm`).
    @inline(__always)
    public static func sigm(_ p: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<p.count { p[i] = 1 / (1 + exp(-4 * (p[i] - 0.5))) }
    }

    /// In place: x ← tanh(x) = 1 − 2/(e^{2x} + 1).
    @inline(__always)
    public static func tanh(_ p: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<p.count { p[i] = 1 - 2 / (exp(2 * p[i]) + 1) }
    }
}
