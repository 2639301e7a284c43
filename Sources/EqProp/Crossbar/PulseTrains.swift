import Foundation

/// aihwkit-style stochastic pulse trains (Gokmen & Vlasov 2016).
///
/// For every sample, input line j fires in each of BL slots with probability p_x = B|x_j| and output
/// line i with p_d = A|d_i|; a coincidence is one pulse in the direction sign(scale·x_j·d_i). With
/// A·B·BL·Δu_pulse = |scale|/(2w_fs), E[ΔW_ij] = scale·x_j·d_i; update management balances A and B
/// (A/B = x_max/d_max) so both maxima fire with the same probability. Probabilities above 1 saturate
/// (the update falls short).
enum PulseTrains {
    /// Adds the coincidences of every term to `up` (pulses raising W) and `down` (lowering it).
    /// `unit` is the weight change of one pulse pair, 2·w_fs·Δu_pulse.
    static func coincidences(_ terms: [UpdateTerm], bl: Int, unit: Float, rows outputs: Int, cols inputs: Int,
                             rng: inout RandomStream, up: inout [Float], down: inout [Float]) {
        let mask: UInt64 = bl == 64 ? ~0 : (1 << UInt64(bl)) - 1
        var rowBits = [UInt64](repeating: 0, count: outputs)
        var colBits = [UInt64](repeating: 0, count: inputs)
        for t in terms {
            let post = t.post, pre = t.pre, scale = t.scale
            let lr = abs(scale) / (unit * Float(bl))   // A·B
            for b in 0..<post.rows {
                var dMax: Float = 0, xMax: Float = 0
                for i in 0..<outputs { dMax = max(dMax, abs(post[b, i])) }
                for j in 0..<inputs { xMax = max(xMax, abs(pre[b, j])) }
                if dMax == 0 || xMax == 0 || lr == 0 { continue }
                let a = (lr * xMax / dMax).squareRoot(), bb = (lr * dMax / xMax).squareRoot()
                func train(_ p: Float) -> UInt64 {
                    if p <= 0 { return 0 }
                    var bits: UInt64 = 0
                    for s in 0..<bl where Float(rng.uniform()) < p { bits |= 1 << UInt64(s) }
                    return bits & mask
                }
                for i in 0..<outputs { rowBits[i] = train(a * abs(post[b, i])) }
                for j in 0..<inputs { colBits[j] = train(bb * abs(pre[b, j])) }
                let positive = scale > 0
                for i in 0..<outputs where rowBits[i] != 0 {
                    let ri = rowBits[i], di = post[b, i]
                    for j in 0..<inputs where colBits[j] != 0 {
                        let c = Float((ri & colBits[j]).nonzeroBitCount)
                        if c == 0 { continue }
                        if (di * pre[b, j] > 0) == positive { up[i * inputs + j] += c } else { down[i * inputs + j] += c }
                    }
                }
            }
        }
    }
}
