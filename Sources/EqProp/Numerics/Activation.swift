import RealModule

/// Activation functions of the seed paper, with first and second derivatives (the EB adjoint needs
/// ρ″ because ρ′(s) multiplies the drive in the EB dynamics).
public enum Activation: String, Codable, Sendable, CaseIterable {
    /// The seed's `sigm`: 1/(1+e^{−4(x−½)}), a logistic of slope 1 at x = ½ mapping into (0, 1).
    case sigm
    /// Hard sigmoid clamp(x, 0, 1) (the seed's P-conv); derivative 1 on (0,1), 0 elsewhere.
    case hardsigm
    /// Hyperbolic tangent, mapping into (−1, 1).
    case tanh
    /// σ(x) = x: makes the P model an exact gradient system (used to check the GDU theorem on P).
    case identity

    /// σ(x), the activation itself.
    @inline(__always)
    public func value<T: EPScalar>(_ x: T) -> T {
        switch self {
        case .sigm: return 1 / (1 + T.exp(-4 * (x - T(0.5))))
        case .hardsigm: return Swift.min(Swift.max(x, 0), 1)
        case .tanh: return T.tanh(x)
        case .identity: return x
        }
    }

    /// σ′(x), evaluated from x.
    @inline(__always)
    public func derivative<T: EPScalar>(_ x: T) -> T {
        switch self {
        case .sigm: let s = value(x); return 4 * s * (1 - s)
        case .hardsigm: return (x > 0 && x < 1) ? 1 : 0
        case .tanh: let t = T.tanh(x); return 1 - t * t
        case .identity: return 1
        }
    }

    /// σ″(x), evaluated from x (needed by the EB adjoint).
    @inline(__always)
    public func secondDerivative<T: EPScalar>(_ x: T) -> T {
        switch self {
        case .sigm: let s = value(x); return 16 * s * (1 - s) * (1 - 2 * s)
        case .hardsigm: return 0
        case .tanh: let t = T.tanh(x); return -2 * t * (1 - t * t)
        case .identity: return 0
        }
    }

    /// σ′ expressed through the value v = σ(x) (possible for all four functions): lets the dynamics
    /// reuse the vectorized σ pass instead of evaluating exp again.
    @inline(__always)
    public func derivative<T: EPScalar>(fromValue v: T) -> T {
        switch self {
        case .sigm: return 4 * v * (1 - v)
        case .hardsigm: return (v > 0 && v < 1) ? 1 : 0
        case .tanh: return 1 - v * v
        case .identity: return 1
        }
    }

    /// σ″ through the value v = σ(x).
    @inline(__always)
    public func secondDerivative<T: EPScalar>(fromValue v: T) -> T {
        switch self {
        case .sigm: return 16 * v * (1 - v) * (1 - 2 * v)
        case .hardsigm: return 0
        case .tanh: return -2 * v * (1 - v * v)
        case .identity: return 0
        }
    }

    /// In place over a buffer: x ← σ(x). One switch outside the loop so each case vectorizes.
    @inline(__always)
    public func apply<T: EPScalar>(_ m: inout Matrix<T>) {
        m.storage.withUnsafeMutableBufferPointer { p in apply(p) }
    }

    /// In place over a buffer. Float uses the vectorized `FastMath` kernels (≤ 2e-7 relative error);
    /// Double uses libm.
    @inline(__always)
    public func apply<T: EPScalar>(_ p: UnsafeMutableBufferPointer<T>) {
        if T.self == Float.self && (self == .sigm || self == .tanh) {
            let f = UnsafeMutableBufferPointer<Float>(
                start: UnsafeMutableRawPointer(p.baseAddress)?.assumingMemoryBound(to: Float.self), count: p.count)
            if self == .sigm { FastMath.sigm(f) } else { FastMath.tanh(f) }
            return
        }
        do {
            switch self {
            case .sigm: for i in 0..<p.count { p[i] = 1 / (1 + T.exp(-4 * (p[i] - T(0.5)))) }
            case .hardsigm: for i in 0..<p.count { p[i] = Swift.min(Swift.max(p[i], 0), 1) }
            case .tanh: for i in 0..<p.count { p[i] = T.tanh(p[i]) }
            case .identity: break
            }
        }
    }

    /// Returns σ(m).
    public func applied<T: EPScalar>(_ m: Matrix<T>) -> Matrix<T> { var c = m; apply(&c); return c }

    /// Returns σ′(m) element-wise.
    public func derivativeApplied<T: EPScalar>(_ m: Matrix<T>) -> Matrix<T> {
        var c = m
        c.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = derivative(p[i]) } }
        return c
    }
}
