import Foundation
import Testing
@testable import EqProp

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
        for i in 0..<5 { for j in 0..<4 {
            let ref = (0..<7).reduce(0.0) { $0 + a[i, $1] * b[j, $1] }
            #expect(abs(c[i, j] - ref) < 1e-12)
        } }
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

    @Test func specValidationNamesTheField() throws {
        let base = try NetworkSpec.load("p-1h")
        var s = base; s.T = -3
        #expect(throws: InputError("model 'p-1h': field 'T' must be an integer ≥ 1 (got -3)")) { try s.validate() }
        s = base; s.beta = -0.1
        #expect(throws: InputError.self) { try s.validate() }
        s = base; s.learningRates = [0.1]
        #expect(throws: InputError.self) { try s.validate() }
        #expect(throws: InputError.self) { try NetworkSpec.decode(yaml: "name: x\nfoo: 1\n", source: "t.yaml") }
        do { _ = try NetworkSpec.decode(yaml: "name: x\nfoo: 1\n", source: "t.yaml") } catch let e as InputError {
            #expect(e.message.contains("unknown field 'foo'"))
        }
        #expect(throws: InputError.self) { try NetworkSpec.load("no-such-model") }
    }

    @Test func presetsLoad() throws {
        for name in ["p-1h", "p-2h", "p-3h", "eb-1h", "eb-2h", "toy"] {
            let s = try NetworkSpec.load(name)
            #expect(s.name == name)
        }
    }
}
