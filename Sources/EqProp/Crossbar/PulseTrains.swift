import Foundation

/// aihwkit-style stochastic pulse trains (Gokmen & Vlasov 2016).
///
/// For every sample, input line j fires in each of BL slots with probability p_x = B|x_j| and output
/// line i with p_d = A|d_i|; a coincidence is one pulse in the direction sign(scale·x_j·d_i). With
/// A·B·BL·Δu_pulse = |scale|/(2w_fs), E[ΔW_ij] = scale·x_j·d_i; update management balances A and B
/// (A/B = x_max/d_max) so both maxima fire with the same probability √(k/BL), where
/// k = |scale|·x_max·d_max/unit is the expected pulse count of the largest element.
///
/// Without bit-line management BL is fixed and probabilities above 1 saturate (the update falls
/// short). With it (aihwkit's `update_bl_management`), each sample uses BL = min(⌈k⌉, bl) slots, so
/// a small update is made of few, likely coincidences: the count of an element with expected value
/// m is Binomial(BL, m/BL), of variance m(1 − m/BL), smaller than with bl slots. When k > bl, aihwkit
/// caps the input side, p_x = |x_j|/x_max, and puts the rest on the output side,
/// p_d = (|d_i|/d_max)·k/bl, which saturates.
enum PulseTrains {
    /// Adds the coincidences of every term to `up` (pulses raising W) and `down` (lowering it).
    /// `unit` is the weight change of one pulse pair, 2·w_fs·Δu_pulse. Returns the pulse slots used,
    /// summed over the samples that pulse (for the programming latency).
    @discardableResult
    static func coincidences(
        _ terms: [UpdateTerm], bl: Int, blManagement: Bool = false, unit: Float, rows outputs: Int, cols inputs: Int,
        rng: inout RandomStream, up: inout [Float], down: inout [Float]
    ) -> Int {
        var used = 0
        // Firing lines of one sample: bits and index (inputs with x > 0 from the front, others from the back).
        var rowBits = [UInt64](repeating: 0, count: outputs), rowIndex = [Int32](repeating: 0, count: outputs)
        var colBits = [UInt64](repeating: 0, count: inputs), colIndex = [Int32](repeating: 0, count: inputs)
        for t in terms {
            let post = t.post, pre = t.pre, scale = t.scale
            let lr = abs(scale) / (unit * Float(bl))  // A·B
            for b in 0..<post.rows {
                var dMax: Float = 0, xMax: Float = 0
                for i in 0..<outputs { dMax = max(dMax, abs(post[b, i])) }
                for j in 0..<inputs { xMax = max(xMax, abs(pre[b, j])) }
                if dMax == 0 || xMax == 0 || lr == 0 { continue }
                var slots = bl, a: Float, bb: Float
                if blManagement {
                    let k = abs(scale) * xMax * dMax / unit
                    slots = Swift.max(1, Swift.min(Int(k.rounded(.up)), bl))
                    if k > Float(bl) {
                        a = k / (Float(bl) * dMax); bb = 1 / xMax
                    } else {
                        let ab = abs(scale) / (unit * Float(slots))
                        a = (ab * xMax / dMax).squareRoot(); bb = (ab * dMax / xMax).squareRoot()
                    }
                } else {
                    a = (lr * xMax / dMax).squareRoot(); bb = (lr * dMax / xMax).squareRoot()
                }
                used += slots
                let mask: UInt64 = slots == 64 ? ~0 : (1 << UInt64(slots)) - 1
                func train(_ p: Float) -> UInt64 {
                    if p <= 0 { return 0 }
                    var bits: UInt64 = 0
                    for s in 0..<slots where Float(rng.uniform()) < p { bits |= 1 << UInt64(s) }
                    return bits & mask
                }
                // The lines that fire in at least one slot, the inputs split by the sign of x (the
                // direction of a coincidence is sign(scale·d_i·x_j)): the pair loop then runs over
                // firing lines only, without a branch per pair. Same draws, in the same order.
                var firingRows = 0
                for i in 0..<outputs {
                    let bits = train(a * abs(post[b, i]))
                    rowBits[firingRows] = bits; rowIndex[firingRows] = Int32(truncatingIfNeeded: i)
                    firingRows &+= bits != 0 ? 1 : 0
                }
                var plus = 0, minus = 0
                for j in 0..<inputs {
                    let bits = train(bb * abs(pre[b, j]))
                    if bits == 0 { continue }
                    if pre[b, j] > 0 {
                        colBits[plus] = bits; colIndex[plus] = Int32(truncatingIfNeeded: j); plus &+= 1
                    } else {
                        minus &+= 1
                        colBits[inputs &- minus] = bits; colIndex[inputs &- minus] = Int32(truncatingIfNeeded: j)
                    }
                }
                let positive = scale > 0
                up.withUnsafeMutableBufferPointer { pu in
                    down.withUnsafeMutableBufferPointer { pd in
                        colBits.withUnsafeBufferPointer { cb in
                            colIndex.withUnsafeBufferPointer { ci in
                                for r in 0..<firingRows {
                                    let i = Int(rowIndex[r]), ri = rowBits[r], base = i &* inputs
                                    // Inputs with x > 0 move W in the direction of sign(scale·d_i).
                                    let raise = (post[b, i] > 0) == positive
                                    let (toPlus, toMinus) = raise ? (pu, pd) : (pd, pu)
                                    for k in 0..<plus {
                                        let c = Float((ri & cb[k]).nonzeroBitCount)
                                        toPlus[base &+ Int(ci[k])] += c
                                    }
                                    for k in (inputs &- minus)..<inputs {
                                        let c = Float((ri & cb[k]).nonzeroBitCount)
                                        toMinus[base &+ Int(ci[k])] += c
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return used
    }
}
