import CBLAS
import RealModule

/// The two floating-point types the library computes in: `Float` for training (speed), `Double` for
/// verification (finite differences, GDU checks). Every matrix product goes through BLAS.
public protocol EPScalar: BinaryFloatingPoint, Real, Codable, Sendable, CustomStringConvertible
where Self.RawSignificand: FixedWidthInteger {
    /// Row-major `C ← α·op(A)·op(B) + β·C` through CBLAS (`sgemm` / `dgemm`).
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// safetensors dtype tag ("F32" / "F64").
    static var dtypeTag: String { get }
}

@inline(__always) private func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: EPScalar {
    /// Row-major `C ← α·op(A)·op(B) + β·C` in single precision through `cblas_sgemm`.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, cblasTrans(transA), cblasTrans(transB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    /// `"F32"`, the safetensors dtype of Float.
    public static var dtypeTag: String { "F32" }
}

extension Double: EPScalar {
    /// Row-major `C ← α·op(A)·op(B) + β·C` in double precision through `cblas_dgemm`.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, cblasTrans(transA), cblasTrans(transB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    /// `"F64"`, the safetensors dtype of Double.
    public static var dtypeTag: String { "F64" }
}

/// OpenBLAS thread control. Results differ bitwise between thread counts, so the library pins one
/// thread by default (see `BLASThreads.pin`) and parallelizes at coarser levels instead.
public enum BLASThreads {
    /// Sets the number of OpenBLAS threads (values below 1 are raised to 1).
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    /// The number of threads OpenBLAS currently uses.
    public static var count: Int { Int(openblas_get_num_threads()) }
    /// The CPU core type OpenBLAS selected its kernels for, or "unknown" when it reports none.
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }
}
