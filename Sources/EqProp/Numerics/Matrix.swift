/// A dense row-major matrix. In the dynamics a "batch" is a matrix with one row per example
/// (B × n), and a weight matrix is out × in, as in PyTorch's `nn.Linear`.
public struct Matrix<T: EPScalar>: Equatable, Sendable {
    /// Number of rows (the batch size B for a state, `out` for a weight matrix).
    public private(set) var rows: Int
    /// Number of columns (the layer width for a state, `in` for a weight matrix).
    public private(set) var cols: Int
    /// The elements in row-major order: element (r, c) is at index r·cols + c.
    public var storage: [T]

    /// A rows × cols matrix with every element set to `value` (zero by default).
    public init(rows: Int, cols: Int, repeating value: T = 0) {
        precondition(rows >= 0 && cols >= 0)
        self.rows = rows
        self.cols = cols
        self.storage = [T](repeating: value, count: rows * cols)
    }

    /// A rows × cols matrix over row-major `storage`, which must hold exactly rows·cols elements.
    public init(rows: Int, cols: Int, storage: [T]) {
        precondition(storage.count == rows * cols, "storage has \(storage.count) elements, expected \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// Number of elements, rows·cols.
    public var count: Int { rows * cols }

    /// The element at row `r`, column `c`.
    @inline(__always)
    public subscript(r: Int, c: Int) -> T {
        get { storage[r * cols + c] }
        set { storage[r * cols + c] = newValue }
    }

    /// Converts element type (e.g. Float weights to Double for verification).
    public func converted<U: EPScalar>(to: U.Type = U.self) -> Matrix<U> {
        Matrix<U>(rows: rows, cols: cols, storage: storage.map { U($0) })
    }

    /// Sets every element to zero without reallocating.
    public mutating func zero() {
        storage.withUnsafeMutableBufferPointer { p in p.update(repeating: 0) }
    }

    /// The rows of `parts` in order, as one matrix (the parts of a batch joined back together).
    public static func stackingRows(_ parts: [Matrix]) -> Matrix {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.cols == parts[0].cols })
        return Matrix(rows: parts.reduce(0) { $0 + $1.rows }, cols: parts[0].cols, storage: parts.flatMap(\.storage))
    }

    /// A new cols × rows matrix with element (r, c) moved to (c, r).
    public func transposed() -> Matrix {
        var t = Matrix(rows: cols, cols: rows)
        for r in 0..<rows { for c in 0..<cols { t.storage[c * rows + r] = storage[r * cols + c] } }
        return t
    }

    /// Sum over rows (the batch axis): a vector of length `cols`.
    public func columnSums() -> [T] {
        var out = [T](repeating: 0, count: cols)
        storage.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    let base = r &* cols
                    for c in 0..<cols { o[c] += s[base &+ c] }
                }
            }
        }
        return out
    }
}

/// `C ← α·op(A)·op(B) + β·C` (row-major; op = transpose when the flag is set).
@inline(__always)
public func gemm<T: EPScalar>(
    _ a: Matrix<T>, transposeA: Bool = false,
    _ b: Matrix<T>, transposeB: Bool = false,
    into c: inout Matrix<T>, alpha: T = 1, beta: T = 0
) {
    let m = transposeA ? a.cols : a.rows
    let k = transposeA ? a.rows : a.cols
    let kb = transposeB ? b.cols : b.rows
    let n = transposeB ? b.rows : b.cols
    precondition(k == kb, "gemm: inner dimensions \(k) and \(kb) differ")
    precondition(c.rows == m && c.cols == n, "gemm: output is \(c.rows)×\(c.cols), expected \(m)×\(n)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 {
            c.zero()
        } else if beta != 1 {
            c.storage.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= beta } }
        }
        return
    }
    let cc = c.cols
    a.storage.withUnsafeBufferPointer { pa in
        b.storage.withUnsafeBufferPointer { pb in
            c.storage.withUnsafeMutableBufferPointer { pc in
                T.gemm(
                    transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                    alpha: alpha, a: pa.baseAddress!, lda: a.cols,
                    b: pb.baseAddress!, ldb: b.cols,
                    beta: beta, c: pc.baseAddress!, ldc: cc)
            }
        }
    }
}

/// Element-wise kernels over equally shaped matrices. Written over raw buffers so they vectorize.
public enum Elementwise {
    /// y ← y + a·x
    @inline(__always)
    public static func axpy<T: EPScalar>(_ a: T, _ x: Matrix<T>, _ y: inout Matrix<T>) {
        precondition(x.count == y.count)
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeMutableBufferPointer { py in
                for i in 0..<py.count { py[i] += a * px[i] }
            }
        }
    }

    /// out ← a − b
    @inline(__always)
    public static func difference<T: EPScalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Matrix<T> {
        precondition(a.rows == b.rows && a.cols == b.cols)
        var out = a
        b.storage.withUnsafeBufferPointer { pb in
            out.storage.withUnsafeMutableBufferPointer { po in
                for i in 0..<po.count { po[i] -= pb[i] }
            }
        }
        return out
    }

    /// Adds a row vector to every row.
    @inline(__always)
    public static func addRow<T: EPScalar>(_ v: [T], to m: inout Matrix<T>) {
        precondition(v.count == m.cols)
        let cols = m.cols
        v.withUnsafeBufferPointer { pv in
            m.storage.withUnsafeMutableBufferPointer { pm in
                for r in 0..<(pm.count / max(cols, 1)) {
                    let base = r &* cols
                    for c in 0..<cols { pm[base &+ c] += pv[c] }
                }
            }
        }
    }
}
