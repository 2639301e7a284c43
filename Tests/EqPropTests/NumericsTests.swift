import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

@Suite struct NumericsTests {
    @Test func fastExpMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let r = FastMath.exp(x), e = Foundation.exp(x)
            worst = max(worst, abs(r - e) / e)
            x += 0.0137
        }
        #expect(worst <= 2e-7, "max relative error \(worst)")
    }

    @Test func gemmMatchesNaiveProduct() {
        var rng = RandomStream(seed: 9)
        let a = Matrix<Double>(rows: 5, cols: 7, storage: (0..<35).map { _ in rng.normal() })
        let b = Matrix<Double>(rows: 4, cols: 7, storage: (0..<28).map { _ in rng.normal() })
        var c = Matrix<Double>(rows: 5, cols: 4)
        gemm(a, b, transposeB: true, into: &c)
        for i in 0..<5 {
            for j in 0..<4 {
                let ref = (0..<7).reduce(0.0) { $0 + a[i, $1] * b[j, $1] }
                #expect(abs(c[i, j] - ref) < 1e-12)
            }
        }
    }

    @Test func randomStreamsAreReproducibleAndIndependent() {
        var a = RandomStream(seed: 42, stream: "init"), b = RandomStream(seed: 42, stream: "init")
        var c = RandomStream(seed: 42, stream: "shuffle/0")
        let xa = (0..<5).map { _ in a.next() }, xb = (0..<5).map { _ in b.next() }, xc = (0..<5).map { _ in c.next() }
        #expect(xa == xb && xa != xc)
        // Moments of the normal sampler against their analytic values (n = 2e5, 5σ bounds).
        var r = RandomStream(seed: 1)
        let n = 200_000
        let v = (0..<n).map { _ in r.normal() }
        let mean = v.reduce(0, +) / Double(n)
        let varr = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        #expect(abs(mean) < 5 / Double(n).squareRoot())
        #expect(abs(varr - 1) < 5 * (2 / Double(n)).squareRoot())
    }

    /// The ziggurat sampler against the normal law: moments, the CDF at 13 points (binomial 5σ
    /// bounds), the Kolmogorov–Smirnov distance, and the tail beyond the base layer (r = 3.4426) and
    /// beyond 4σ, where its rejection steps decide. n = 2·10⁶, σ = 1.5.
    @Test func zigguratMatchesTheNormalLaw() {
        var r = RandomStream(seed: 7, stream: "ziggurat-test")
        let n = 2_000_000, sigma: Float = 1.5
        var v = [Float](repeating: 0, count: n)
        v.withUnsafeMutableBufferPointer { r.fillNormal($0, sigma: sigma) }
        let z = v.map { Double($0) / Double(sigma) }
        let mean = z.reduce(0, +) / Double(n)
        let m2 = z.reduce(0) { $0 + $1 * $1 } / Double(n), m4 = z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / Double(n)
        #expect(abs(mean) < 5 / Double(n).squareRoot())
        #expect(abs(m2 - 1) < 5 * (2 / Double(n)).squareRoot(), "variance \(m2)")
        #expect(abs(m4 - 3) < 5 * (96 / Double(n)).squareRoot(), "fourth moment \(m4)")
        func phi(_ x: Double) -> Double { 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }
        let sorted = z.sorted()
        var ks = 0.0
        for (i, x) in sorted.enumerated() where i % 97 == 0 {
            ks = max(ks, abs(Double(i) / Double(n) - phi(x)), abs(Double(i + 1) / Double(n) - phi(x)))
        }
        #expect(ks < 1.63 / Double(n).squareRoot(), "KS distance \(ks)")
        for x in stride(from: -3.0, through: 3.0, by: 0.5) {
            let p = phi(x), got = Double(z.lazy.filter { $0 <= x }.count) / Double(n)
            #expect(abs(got - p) < 5 * (p * (1 - p) / Double(n)).squareRoot(), "CDF at \(x): \(got) vs \(p)")
        }
        for x in [Ziggurat.r, 4.0] {
            let p = 2 * (1 - phi(x)), got = Double(z.lazy.filter { abs($0) > x }.count) / Double(n)
            #expect(abs(got - p) < 5 * (p / Double(n)).squareRoot(), "P(|z| > \(x)): \(got) vs \(p)")
        }
        // Same stream, same values.
        var r2 = RandomStream(seed: 7, stream: "ziggurat-test")
        var w = [Float](repeating: 0, count: 1000)
        w.withUnsafeMutableBufferPointer { r2.fillNormal($0, sigma: sigma) }
        #expect(Array(v[0..<1000]) == w)
    }

    /// `fillUniform` takes two 24-bit uniforms from each word of the stream (bits 40–63, then 8–31),
    /// for even and odd lengths, and leaves the stream where `next()` would; mean and variance of
    /// U[0, 1) within 5σ.
    @Test func fillUniformSplitsTheStreamWords() {
        for n in [1, 2, 7, 1000, 1001] {
            var a = RandomStream(seed: 9, stream: "uniform-test"), b = a
            var v = [Float](repeating: -1, count: n)
            v.withUnsafeMutableBufferPointer { a.fillUniform($0) }
            var expected: [Float] = []
            while expected.count < n {
                let w = b.next()
                expected.append(Float(w >> 40) * 0x1p-24)
                if expected.count < n { expected.append(Float((w >> 8) & 0xFF_FFFF) * 0x1p-24) }
            }
            #expect(v == expected, "n = \(n)")
            #expect(a.next() == b.next(), "n = \(n): stream position")
        }
        var r = RandomStream(seed: 3, stream: "uniform-moments")
        let n = 1_000_000
        var u = [Float](repeating: 0, count: n)
        u.withUnsafeMutableBufferPointer { r.fillUniform($0) }
        let mean = u.reduce(0.0) { $0 + Double($1) } / Double(n)
        let varr = u.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
        #expect(abs(mean - 0.5) < 5 * (1.0 / 12 / Double(n)).squareRoot())
        // Var[(U−½)²] = 1/180
        #expect(abs(varr - 1.0 / 12) < 5 * (1.0 / 180 / Double(n)).squareRoot(), "variance \(varr)")
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func fastSqrtMatchesSquareRoot() {
        var worst: Float = 0
        var x: Float = 1e-30
        while x < 1e30 { worst = max(worst, abs(FastMath.sqrt(x) - x.squareRoot()) / x.squareRoot()); x *= 1.0173 }
        #expect(worst <= 3e-7, "max relative error \(worst)")
        #expect(FastMath.sqrt(0) == 0)
    }

    @Test func specValidationNamesTheField() throws {
        let base = try NetworkSpec.load("p-1h")
        var s = base; s.T = -3
        #expect(throws: InputError("model 'p-1h': field 'T' must be an integer in 1…100000 (got -3)")) {
            try s.validate()
        }
        s = base; s.beta = -0.1
        #expect(throws: InputError.self) { try s.validate() }
        s = base; s.learningRates = [0.1]
        #expect(throws: InputError.self) { try s.validate() }
        #expect(throws: InputError.self) { try NetworkSpec.decode(yaml: "name: x\nfoo: 1\n", source: "t.yaml") }
        do { _ = try NetworkSpec.decode(yaml: "name: x\nfoo: 1\n", source: "t.yaml") } catch let e as InputError {
            #expect(e.message.contains("unknown field 'foo'"))
        }
        #expect(throws: InputError.self) { try NetworkSpec.load("no-such-model") }
        // Names and types: the message lists the allowed values or says what the field must be.
        var text = base.yaml().replacingOccurrences(of: "activation: sigm", with: "activation: relu")
        #expect(
            throws: InputError(
                "t.yaml: field 'activation' must be one of "
                    + "\(Activation.allCases.map(\.rawValue).joined(separator: ", ")) (got 'relu')"
            )
        ) {
            try NetworkSpec.decode(yaml: text, source: "t.yaml")
        }
        text = base.yaml().replacingOccurrences(of: "T: 30", with: "T: 30\nT: 40")
        #expect(throws: InputError("t.yaml: field 'T' is given more than once")) {
            try NetworkSpec.decode(yaml: text, source: "t.yaml")
        }
        text = base.yaml().replacingOccurrences(of: "T: 30", with: "T: thirty")
        #expect(throws: InputError("t.yaml: field 'T' must be an integer")) {
            try NetworkSpec.decode(yaml: text, source: "t.yaml")
        }
    }

    @Test func presetsLoad() throws {
        for name in ["p-1h", "p-2h", "p-3h", "eb-1h", "eb-2h", "toy"] {
            let s = try NetworkSpec.load(name)
            #expect(s.name == name)
        }
    }
}
