import Foundation

/// The resistive network of one crossbar read: devices between driven lines and sensed lines whose
/// wires have a resistance r per segment (IR drop), solved exactly or to first order in r.
///
/// Geometry, for a matrix Γ of conductances (S) indexed [sensed line s, driven line d]: driven line d
/// runs past the devices (s, d), s = 0…S−1, and is driven with voltage x_d at the s = 0 end through one
/// wire segment; sensed line s runs past the devices (s, d), d = 0…D−1, into a virtual ground at the
/// d = D−1 end through one segment. Device (s, d) joins node a_sd of its driven line to node b_sd of
/// its sensed line, and the sensed current is I_s = Σ_d Γ_sd·(a_sd − b_sd); without wire resistance
/// a = x, b = 0 and I = Γ·x. So the devices farthest from the drivers (large s) and from the ground
/// (small d) see the least voltage.
public enum CrossbarCircuit {
    /// The first-order kernel M of the IR drop, I = Γ·x − r·M·x + O(r²).
    ///
    /// To first order the currents are those of the ideal read. Segment k ≤ s of driven line d carries
    /// the current of the devices l ≥ k, so a_sd = x_d − r·x_d·Σ_l Γ_ld·(min(s, l) + 1); the segment of
    /// sensed line s after node k carries the current of the devices l ≤ k, so
    /// b_sd = r·Σ_l Γ_sl·x_l·(D − max(d, l)). Then Σ_d Γ_sd(x_d − a_sd + b_sd) = r·(M·x)_s with
    /// M_sd = Γ_sd·Σ_l Γ_ld(min(s, l) + 1) + Γ_sd·Σ_j Γ_sj(D − max(j, d)), formed with prefix sums in O(S·D).
    public static func firstOrderKernel(_ g: Matrix<Double>) -> Matrix<Double> {
        let s = g.rows, d = g.cols
        var m = Matrix<Double>(rows: s, cols: d)
        // Driven lines: C_sd = Σ_l Γ_ld(min(s, l) + 1) = Σ_{l≤s} Γ_ld(l + 1) + (s + 1)·Σ_{l>s} Γ_ld.
        for col in 0..<d {
            var total = 0.0
            for l in 0..<s { total += g[l, col] }
            var weighted = 0.0, below = 0.0
            for row in 0..<s {
                weighted += g[row, col] * Double(row + 1); below += g[row, col]
                m[row, col] = g[row, col] * (weighted + Double(row + 1) * (total - below))
            }
        }
        // Sensed lines: E_sd = Σ_j Γ_sj(D − max(j, d)) = (D − d)·Σ_{j≤d} Γ_sj + Σ_{j>d} Γ_sj(D − j).
        for row in 0..<s {
            var tail = 0.0
            for j in 0..<d { tail += g[row, j] * Double(d - j) }
            var head = 0.0
            for col in 0..<d {
                head += g[row, col]; tail -= g[row, col] * Double(d - col)
                m[row, col] += g[row, col] * (Double(d - col) * head + tail)
            }
        }
        return m
    }

    /// The exact sensed currents I (A) of the network for driven voltages x (V), conductances g (S) and
    /// wire resistance r (Ω per segment), by block Gauss–Seidel over the lines: each sweep solves every
    /// driven line for its node voltages with the sensed lines held, then every sensed line, each a
    /// tridiagonal system (Kirchhoff's current law at its nodes), until no node moves by more than
    /// `tolerance`·max|x|. The nodal matrix is symmetric positive definite, so the sweeps converge;
    /// they take longer as r·G·(S + D)² grows. Returns the currents and the sweeps taken (nil currents
    /// when `maxSweeps` did not suffice).
    public static func currents(
        _ g: Matrix<Double>, wire r: Double, input x: [Double], tolerance: Double = 1e-13,
        maxSweeps: Int = 20_000
    ) -> (currents: [Double]?, sweeps: Int) {
        let s = g.rows, d = g.cols
        precondition(x.count == d && r >= 0)
        var a = Matrix<Double>(rows: s, cols: d), b = Matrix<Double>(rows: s, cols: d)
        for row in 0..<s { for col in 0..<d { a[row, col] = x[col] } }
        func current() -> [Double] {
            (0..<s).map { row in (0..<d).reduce(0.0) { $0 + g[row, $1] * (a[row, $1] - b[row, $1]) } }
        }
        if r == 0 { return (current(), 0) }
        let scale = max(x.map(abs).max() ?? 0, 1e-300)
        var lower = [Double](repeating: 0, count: max(s, d)), diag = lower, upper = lower, rhs = lower, sol = lower
        for sweep in 1...maxSweeps {
            var moved = 0.0
            // Driven line `col`: node row has the segment above (toward the driver) and, but for the
            // last, the one below; r·KCL: −a_{row−1} + (neighbours + rΓ)·a_row − a_{row+1} = rΓ·b (+ x at row 0).
            for col in 0..<d {
                for row in 0..<s {
                    let rg = r * g[row, col]
                    lower[row] = row > 0 ? -1 : 0; upper[row] = row < s - 1 ? -1 : 0
                    diag[row] = rg + 1 + (row < s - 1 ? 1 : 0)
                    rhs[row] = rg * b[row, col] + (row == 0 ? x[col] : 0)
                }
                Self.tridiagonal(lower, diag, upper, rhs, count: s, into: &sol)
                for row in 0..<s { moved = max(moved, abs(sol[row] - a[row, col])); a[row, col] = sol[row] }
            }
            // Sensed line `row`: node col has the segment toward the ground (node col+1, or the ground
            // after the last) and, but for the first, the one before: −b_{col−1} + (…)·b_col − b_{col+1} = rΓ·a.
            for row in 0..<s {
                for col in 0..<d {
                    let rg = r * g[row, col]
                    lower[col] = col > 0 ? -1 : 0; upper[col] = col < d - 1 ? -1 : 0
                    diag[col] = rg + 1 + (col > 0 ? 1 : 0)
                    rhs[col] = rg * a[row, col]
                }
                Self.tridiagonal(lower, diag, upper, rhs, count: d, into: &sol)
                for col in 0..<d { moved = max(moved, abs(sol[col] - b[row, col])); b[row, col] = sol[col] }
            }
            if moved <= tolerance * scale { return (current(), sweep) }
        }
        return (nil, maxSweeps)
    }

    /// Solves a tridiagonal system (Thomas algorithm; the matrices here are diagonally dominant).
    static func tridiagonal(
        _ lower: [Double], _ diag: [Double], _ upper: [Double], _ rhs: [Double], count n: Int, into x: inout [Double]
    ) {
        var c = [Double](repeating: 0, count: n), e = c
        c[0] = upper[0] / diag[0]; e[0] = rhs[0] / diag[0]
        if n > 1 {
            for i in 1..<n {
                let m = diag[i] - lower[i] * c[i - 1]
                c[i] = upper[i] / m; e[i] = (rhs[i] - lower[i] * e[i - 1]) / m
            }
        }
        x[n - 1] = e[n - 1]
        var i = n - 2
        while i >= 0 { x[i] = e[i] - c[i] * x[i + 1]; i -= 1 }
    }
}

/// IR drop as a read stage: the wires of the array (`wire_resistance` Ω per segment) lower the
/// voltage each device sees, so a read returns less than W·x, most for the devices far from the
/// drivers and the sensing amplifiers, and more the larger the array and its conductances.
///
/// A forward read (y = W·x, W out × in) drives the input lines from the side of output 0 and senses
/// the output lines at the side of input in − 1; a transposed read (Wᵀ·y) drives the output lines from
/// their amplifier side and senses the input lines at their driver side (`CrossbarCircuit` with Wᵀ, both
/// line orders reversed). A differential pair is two arrays, G± = G_min + u±·(G_max − G_min), read at
/// once: y = w_fs·gain·(I⁺ − I⁻)/(G_max − G_min) with the driven voltages the (DAC'd) inputs; the
/// reference mapping's reference devices form the second array. The stage adds the change of that
/// difference to the clean product: with the `first-order` model, −r·(M⁺ − M⁻)·x (one more matrix
/// product per read; M is formed once per weight change), with `exact`, the nodal solution of both
/// arrays for every input vector (small arrays only). Write noise is left out of the conductances.
final class IRDrop: ReadStage {
    let wire: Double, exact: Bool
    let gMin: Double, gRange: Double
    /// Per direction (forward 0, transposed 1): the first-order kernel in the read's orientation,
    /// scaled to weight units, s·(M⁺ − M⁻) with s = w_fs·gain·r/(G_max − G_min).
    private var kernels: [Matrix<Float>?] = [nil, nil]

    init(wire: Double, exact: Bool, gMin: Double, gMax: Double) {
        self.wire = wire; self.exact = exact; self.gMin = gMin; gRange = gMax - gMin
    }

    /// The conductances (S) of one device array in the read's orientation Γ[sensed, driven].
    func conductances(_ u: [Float], storage c: ConductanceStorage, direction: Int) -> Matrix<Double> {
        let m = c.rows, n = c.cols
        if direction == 0 {
            return Matrix(rows: m, cols: n, storage: u.map { gMin + Double($0) * gRange })
        }
        var g = Matrix<Double>(rows: n, cols: m)
        for i in 0..<m { for j in 0..<n { g[n - 1 - j, m - 1 - i] = gMin + Double(u[i * n + j]) * gRange } }
        return g
    }

    func weightsChanged() { kernels = [nil, nil] }

    func correct(_ y: inout Matrix<Float>, driven x: Matrix<Float>, storage: ConductanceStorage?, direction: Int) {
        guard let c = storage else { return }
        let sensed = y.cols, drivenCount = x.cols
        let scale = Double(c.fullScale * c.gain) / gRange
        let gp = conductances(c.uPos, storage: c, direction: direction),
            gn = conductances(c.uNeg, storage: c, direction: direction)
        // Reading the lines in their natural order: a transposed read reverses both.
        let rev = direction == 1
        if exact {
            for b in 0..<x.rows {
                var v = [Double](repeating: 0, count: drivenCount)
                for k in 0..<drivenCount { v[rev ? drivenCount - 1 - k : k] = Double(x[b, k]) }
                guard let ip = CrossbarCircuit.currents(gp, wire: wire, input: v).currents,
                    let ineg = CrossbarCircuit.currents(gn, wire: wire, input: v).currents
                else {
                    preconditionFailure(
                        "the exact IR-drop solve did not converge (r·G·(rows + columns)² too large); use "
                            + "ir_drop_model first-order"
                    )
                }
                for s in 0..<sensed {
                    var ideal = 0.0
                    for k in 0..<drivenCount { ideal += (gp[s, k] - gn[s, k]) * v[k] }
                    y[b, rev ? sensed - 1 - s : s] += Float(scale * ((ip[s] - ineg[s]) - ideal))
                }
            }
            return
        }
        if kernels[direction] == nil {
            let mp = CrossbarCircuit.firstOrderKernel(gp), mn = CrossbarCircuit.firstOrderKernel(gn)
            var k = Matrix<Float>(rows: sensed, cols: drivenCount)
            for s in 0..<sensed {
                for j in 0..<drivenCount {
                    k[rev ? sensed - 1 - s : s, rev ? drivenCount - 1 - j : j] = Float(
                        scale * wire * (mp[s, j] - mn[s, j]))
                }
            }
            kernels[direction] = k
        }
        // y ← y − x·Kᵀ
        gemm(x, kernels[direction]!, transposeB: true, into: &y, alpha: -1, beta: 1)
    }
}
