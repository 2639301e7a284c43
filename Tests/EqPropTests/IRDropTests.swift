import Foundation
import Testing

@testable import EqProp

/// IR drop: the exact nodal solve against a dense solve of Kirchhoff's equations, the first-order
/// model against the exact one, and the read stage in both directions.
@Suite struct IRDropTests {
    /// Conductances uniform in [gMin, gMax] (S), rows × cols.
    static func conductances(_ rows: Int, _ cols: Int, gMin: Double = 1e-6, gMax: Double = 1e-4, seed: UInt64 = 1)
        -> Matrix<Double>
    {
        var rng = RandomStream(seed: seed, stream: "ir-test")
        return Matrix(
            rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in gMin + (gMax - gMin) * rng.uniform() })
    }

    static func inputs(_ n: Int, seed: UInt64 = 2) -> [Double] {
        var rng = RandomStream(seed: seed, stream: "ir-test-x")
        return (0..<n).map { _ in 2 * rng.uniform() - 1 }
    }

    static func ideal(_ g: Matrix<Double>, _ x: [Double]) -> [Double] {
        (0..<g.rows).map { s in (0..<g.cols).reduce(0.0) { $0 + g[s, $1] * x[$1] } }
    }

    /// Kirchhoff's current law at every node as one dense system (2·S·D unknowns: the driven-line
    /// nodes a, then the sensed-line nodes b), solved by Gaussian elimination with partial pivoting.
    static func denseCurrents(_ g: Matrix<Double>, wire r: Double, input x: [Double]) -> [Double] {
        let s = g.rows, d = g.cols, n = 2 * s * d
        func a(_ i: Int, _ j: Int) -> Int { i * d + j }
        func b(_ i: Int, _ j: Int) -> Int { s * d + i * d + j }
        var m = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        let w = 1 / r
        for i in 0..<s {
            for j in 0..<d {
                // Node a_ij: wire up (node above or the driver at x_j), wire down (if any), device to b_ij.
                var row = a(i, j)
                m[row][row] += w + g[i, j]; m[row][b(i, j)] -= g[i, j]
                if i > 0 { m[row][a(i - 1, j)] -= w } else { m[row][n] += w * x[j] }
                if i < s - 1 { m[row][row] += w; m[row][a(i + 1, j)] -= w }
                // Node b_ij: wire toward the ground (node j+1, or the ground), wire back (if any), device.
                row = b(i, j)
                m[row][row] += w + g[i, j]; m[row][a(i, j)] -= g[i, j]
                if j < d - 1 { m[row][b(i, j + 1)] -= w }
                if j > 0 { m[row][row] += w; m[row][b(i, j - 1)] -= w }
            }
        }
        for c in 0..<n {
            let p = (c..<n).max { abs(m[$0][c]) < abs(m[$1][c]) }!
            m.swapAt(c, p)
            for r2 in (c + 1)..<n where m[r2][c] != 0 {
                let f = m[r2][c] / m[c][c]
                for k in c...n { m[r2][k] -= f * m[c][k] }
            }
        }
        var v = [Double](repeating: 0, count: n)
        for c in stride(from: n - 1, through: 0, by: -1) {
            v[c] = (m[c][n] - ((c + 1)..<n).reduce(0.0) { $0 + m[c][$1] * v[$1] }) / m[c][c]
        }
        // The current into the ground of sensed line i is its last segment's: b_{i,D−1}/r.
        return (0..<s).map { v[b($0, d - 1)] * w }
    }

    @Test func exactSolveMatchesKirchhoffDense() throws {
        // Strong IR drop (r·G up to 5e-3 per segment) on a small, non-square array.
        let g = Self.conductances(5, 7), x = Self.inputs(7)
        let exact = CrossbarCircuit.currents(g, wire: 50, input: x)
        let got = try #require(exact.currents)
        let want = Self.denseCurrents(g, wire: 50, input: x)
        let ideal = Self.ideal(g, x)
        for s in 0..<5 {
            #expect(abs(got[s] - want[s]) <= 1e-9 * abs(ideal[s]) + 1e-18, "line \(s): \(got[s]) vs dense \(want[s])")
        }
        // The drop is real: at least 1e-3 of the ideal current on some line.
        #expect(zip(got, ideal).contains { abs($0 - $1) > 1e-3 * abs($1) })
    }

    @Test func zeroWireResistanceIsTheIdealRead() throws {
        let g = Self.conductances(6, 9), x = Self.inputs(9)
        #expect(try #require(CrossbarCircuit.currents(g, wire: 0, input: x).currents) == Self.ideal(g, x))
        // An array whose device has wire_resistance 0 has no IR stage: its read is the exact product.
        var d = DeviceSpec(); d.name = "w0"; d.model = .linearStep; d.dwMin = 1e-3; d.wireResistance = 0
        var w = Matrix<Float>(rows: 6, cols: 9)
        for i in 0..<w.count { w.storage[i] = Float(i % 7) * 0.05 - 0.15 }
        let arr = CrossbarArray(spec: d, weights: w, seed: 1, layer: 0)
        let input = Matrix<Float>(rows: 2, cols: 9, storage: (0..<18).map { Float($0 % 5) * 0.2 - 0.4 })
        var ideal = Matrix<Float>(rows: 2, cols: 6)
        gemm(input, arr.weights, transposeB: true, into: &ideal)
        #expect(arr.forwardRead(input).storage == ideal.storage)
    }

    /// The first-order kernel is the derivative of the exact currents at r = 0.
    @Test func firstOrderIsTheSlopeOfTheExactSolve() throws {
        let g = Self.conductances(8, 12), x = Self.inputs(12)
        let m = CrossbarCircuit.firstOrderKernel(g), ideal = Self.ideal(g, x)
        let r = 1e-2
        let got = try #require(CrossbarCircuit.currents(g, wire: r, input: x).currents)
        for s in 0..<8 {
            let slope = (got[s] - ideal[s]) / r
            let want = -(0..<12).reduce(0.0) { $0 + m[s, $1] * x[$1] }
            #expect(abs(slope - want) <= 1e-4 * abs(want), "line \(s): slope \(slope) vs first order \(want)")
        }
    }

    /// First order against exact on square arrays, r = 1 Ω, G in [1, 100] µS: the relative error of the
    /// first-order IR correction grows with the array as r·G·n² (measured 0.0040, 0.0112, 0.0358,
    /// 0.137 for n = 8, 16, 32, 64); asserted at 1.5× those.
    @Test(arguments: [(8, 0.006), (16, 0.017), (32, 0.054), (64, 0.21)])
    func firstOrderAgainstExact(n: Int, bound: Double) throws {
        let g = Self.conductances(n, n), x = Self.inputs(n)
        let m = CrossbarCircuit.firstOrderKernel(g), ideal = Self.ideal(g, x)
        let exact = try #require(CrossbarCircuit.currents(g, wire: 1, input: x).currents)
        var errFirst = 0.0, drop = 0.0
        for s in 0..<n {
            let first = -(0..<n).reduce(0.0) { $0 + m[s, $1] * x[$1] }
            errFirst += (first - (exact[s] - ideal[s])) * (first - (exact[s] - ideal[s]))
            drop += (exact[s] - ideal[s]) * (exact[s] - ideal[s])
        }
        let rel = (errFirst / drop).squareRoot()
        #expect(rel <= bound, "n = \(n): first-order error \(rel) of the IR drop")
    }

    /// The read stage: first order and exact agree in both read directions on a small differential
    /// array (the two code paths map the lines' orders independently), and zero inputs read zero.
    @Test func readStageAgreesAcrossModelsInBothDirections() throws {
        var d = DeviceSpec(); d.name = "ir"; d.model = .linearStep; d.dwMin = 1e-3; d.gMin = 1e-6; d.gMax = 1e-4
        d.wireResistance = 0.2
        var w = Matrix<Float>(rows: 12, cols: 20)
        var rng = RandomStream(seed: 5, stream: "w")
        for i in 0..<w.count { w.storage[i] = Float(rng.uniform() - 0.5) }
        var exact = d; exact.irDropModel = .exact
        let a = CrossbarArray(spec: d, weights: w, seed: 1, layer: 0),
            b = CrossbarArray(spec: exact, weights: w, seed: 1, layer: 0)
        let x = Matrix<Float>(rows: 3, cols: 20, storage: (0..<60).map { _ in Float(rng.uniform() * 2 - 1) })
        let yT = Matrix<Float>(rows: 3, cols: 12, storage: (0..<36).map { _ in Float(rng.uniform() * 2 - 1) })
        var ideal = Matrix<Float>(rows: 3, cols: 12), idealT = Matrix<Float>(rows: 3, cols: 20)
        gemm(x, a.weights, transposeB: true, into: &ideal); gemm(yT, a.weights, into: &idealT)
        for (first, ex, id) in [
            (a.forwardRead(x), b.forwardRead(x), ideal), (a.transposedRead(yT), b.transposedRead(yT), idealT)
        ] {
            var dropNorm: Float = 0, diff: Float = 0
            for k in 0..<id.count {
                dropNorm += (ex.storage[k] - id.storage[k]) * (ex.storage[k] - id.storage[k])
                diff += (first.storage[k] - ex.storage[k]) * (first.storage[k] - ex.storage[k])
            }
            #expect(dropNorm > 0)
            // Measured 0.0021 (forward) and 0.0024 (transposed) of the drop.
            #expect(
                (diff / dropNorm).squareRoot() < 0.005,
                "first order vs exact: \((diff / dropNorm).squareRoot()) of the drop")
        }
    }
}

extension IRDropTests {
    /// The error budget has an IR-drop item when the device has wire resistance: IR drop alone, on the
    /// fine-grained linear device with the preset's conductance range.
    @Test func errorBudgetHasAnIRDropItem() throws {
        var d = try DeviceSpec.load("epiram")
        #expect(!FidelityRun.ablationVariants(d).contains { $0.name == "IR drop" })
        d.wireResistance = 0.5; d.irDropModel = .exact
        let v = try #require(FidelityRun.ablationVariants(d).first { $0.name == "IR drop" }?.device)
        #expect(v.wireResistance == 0.5 && v.irDropModel == .exact && v.gMax == d.gMax && v.gMin == d.gMin)
        #expect(
            v.whiteNoise == 0 && v.flickerK == 0 && v.dwMinStd == 0 && v.c2c == 0 && v.levels == 0 && v.adcBits == 0)
    }

    /// The exact solve is refused on arrays beyond its limit, naming the matrix and the way out.
    @Test func exactSolveIsRefusedOnLargeArrays() throws {
        var d = try DeviceSpec.load("epiram"); d.wireResistance = 1; d.irDropModel = .exact
        #expect(throws: InputError.self) { try d.checkArrays([(10, 100), (512, 784)]) }
        try d.checkArrays([(256, 256), (10, 256)])
        d.irDropModel = .firstOrder
        try d.checkArrays([(512, 784)])
    }
}

extension CrossbarArray {
    /// X·Wᵀ through the read path at time zero.
    func forwardRead(_ x: Matrix<Float>) -> Matrix<Float> {
        var y = Matrix<Float>(rows: x.rows, cols: weights.rows)
        multiply(x, into: &y, accumulate: false, clock: ReadClock())
        return y
    }
    /// Y·W through the read path at time zero.
    func transposedRead(_ y: Matrix<Float>) -> Matrix<Float> {
        var x = Matrix<Float>(rows: y.rows, cols: weights.cols)
        multiplyTransposed(y, into: &x, accumulate: false, clock: ReadClock())
        return x
    }
}
