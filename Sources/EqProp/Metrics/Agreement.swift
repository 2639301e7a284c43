/// Agreement between two update estimates (spec ep.md §6), computed in Double.
///
/// Each component (a neuron or a synapse) has a series over the K steps: `a[t][i]` is the
/// estimate under test (e.g. ΔEP(β,t)), `b[t][i]` the reference (e.g. −∇BPTT(t)).
public struct Agreement: Codable, Equatable, Sendable {
    /// Mean over components of √(Σ_t (a−b)² / max(Σ_t a², Σ_t b²)); components that are zero in both
    /// series count as 0 (the seed's definition).
    public var relmse: Double
    /// The same on the cumulative sums over t (what the seed's plotting code uses for weights).
    public var relmseCumulative: Double
    /// Percentage of components whose totals Σ_t have the same non-zero sign, among components
    /// where at least one total is non-zero.
    public var signAgreement: Double
    /// Cosine similarity of the total vectors.
    public var cosine: Double
    /// ‖total‖ / ‖reference total‖: above 1 the update is longer than the reference (a larger
    /// effective learning rate); nil when the reference is zero (and in files written before it).
    public var normRatio: Double?
    /// Components compared, and how many were zero in both totals (excluded from sign agreement).
    public var components: Int
    /// Components whose totals are zero in both series.
    public var bothZero: Int

    enum CodingKeys: String, CodingKey {
        case relmse, relmseCumulative = "relmse_cumulative", signAgreement = "sign_agreement", cosine, components
        case bothZero = "both_zero", normRatio = "norm_ratio"
    }

    /// Mean over components i of √(Σ_t (a[t][i]−b[t][i])² / max(Σ_t a², Σ_t b²)); components zero
    /// in both series count as 0.
    public static func relmse(_ a: [[Double]], _ b: [[Double]]) -> Double {
        precondition(a.count == b.count)
        guard let n = a.first?.count, n > 0 else { return 0 }
        var total = 0.0
        for i in 0..<n {
            var d = 0.0, sa = 0.0, sb = 0.0
            for t in a.indices {
                let x = a[t][i], y = b[t][i]
                d += (x - y) * (x - y); sa += x * x; sb += y * y
            }
            let m = max(sa, sb)
            total += m == 0 ? 0 : (d / m).squareRoot()
        }
        return total / Double(n)
    }

    /// Running sums over t: out[t][i] = Σ_{u≤t} a[u][i].
    public static func cumulative(_ a: [[Double]]) -> [[Double]] {
        var out = a
        for t in out.indices.dropFirst() { for i in out[t].indices { out[t][i] += out[t - 1][i] } }
        return out
    }

    /// Sum over t of each component, Σ_t a[t][i]; empty for an empty series.
    public static func totals(_ a: [[Double]]) -> [Double] {
        guard var s = a.first else { return [] }
        for t in a.indices.dropFirst() { for i in s.indices { s[i] += a[t][i] } }
        return s
    }

    /// Cosine similarity a·b / (‖a‖‖b‖); 0 when either vector is zero.
    public static func cosine(_ a: [Double], _ b: [Double]) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in a.indices { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i] }
        return (aa == 0 || bb == 0) ? 0 : ab / (aa * bb).squareRoot()
    }

    /// (percentage agreeing, number where both are zero)
    public static func signAgreement(_ a: [Double], _ b: [Double]) -> (Double, Int) {
        var agree = 0, counted = 0, zero = 0
        for i in a.indices {
            if a[i] == 0 && b[i] == 0 { zero += 1; continue }
            counted += 1
            if (a[i] > 0 && b[i] > 0) || (a[i] < 0 && b[i] < 0) { agree += 1 }
        }
        return (counted == 0 ? 100 : 100 * Double(agree) / Double(counted), zero)
    }

    /// Compares per-step series.
    public init(series a: [[Double]], reference b: [[Double]]) {
        let ta = Self.totals(a), tb = Self.totals(b)
        let (sign, zero) = Self.signAgreement(ta, tb)
        self.init(
            relmse: Self.relmse(a, b), relmseCumulative: Self.relmse(Self.cumulative(a), Self.cumulative(b)),
            signAgreement: sign, cosine: Self.cosine(ta, tb), components: ta.count, bothZero: zero)
        let na = ta.reduce(0) { $0 + $1 * $1 }, nb = tb.reduce(0) { $0 + $1 * $1 }
        normRatio = nb > 0 ? (na / nb).squareRoot() : nil
    }

    /// Compares two single updates (no time axis): RelMSE per component reduces to |a−b|/max(|a|,|b|).
    public init(total a: [Double], reference b: [Double]) {
        self.init(series: [a], reference: [b])
    }

    /// Stores metrics computed elsewhere; `normRatio` is left nil.
    public init(
        relmse: Double, relmseCumulative: Double, signAgreement: Double, cosine: Double, components: Int, bothZero: Int
    ) {
        self.relmse = relmse; self.relmseCumulative = relmseCumulative; self.signAgreement = signAgreement
        self.cosine = cosine; self.components = components; self.bothZero = bothZero
    }
}
