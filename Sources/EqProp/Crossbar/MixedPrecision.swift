/// The digital accumulator of mixed-precision updates (Nandakumar et al., Front. Neurosci. 2020;
/// aihwkit `MixedPrecisionCompound`).
///
/// Every update ΔW is added to χ (weight units, one Float per synapse). Where |χ| reaches
/// `threshold` device steps (one step = 2·w_fs·meanStep of weight), the device pair gets
/// n = ⌊|χ|/step⌋ pulses (or n rounded stochastically), capped at `max_pulses`, in the sign of χ,
/// and χ keeps what was not sent: χ ← χ − sign(χ)·n·step. The pulses are sent open loop (the
/// device's actual response is not read back), as in the paper; the rest of the programming path
/// (law, c2c, clipping, grid, faults) applies to them unchanged.
///
/// Random stream: the programmer's write stream (`xbar/<layer>/…/write`), for stochastic rounding.
final class MixedPrecisionAccumulator {
    /// χ, row-major like the weights (weight units).
    var chi: [Float]
    let threshold: Float, stochastic: Bool, cap: Float
    /// Fixed-point χ (`chi_bits` > 0): range ±`range` device steps in 2^bits − 1 levels of `levelSteps`.
    let range: Float, levelSteps: Float
    /// Digital accumulator operations: one add per synapse an update (or a column transfer) touches.
    private(set) var accumulatorOps = 0

    init(count: Int, update: UpdateParameters) {
        chi = [Float](repeating: 0, count: count)
        threshold = Float(update.transferThreshold); stochastic = update.transferRounding == .stochastic
        cap = Float(update.maxPulses)
        range = 2 * max(threshold, 1)
        levelSteps = update.chiBits > 0 ? range / Float((1 << (update.chiBits - 1)) - 1) : 0
    }

    /// Adds `dw` to χ and writes the pulse counts of the transfer into `up` (raise W) and `down`
    /// (lower W); `step` is the weight change of one mean device step.
    func transfer(_ dw: Matrix<Float>, step: Float, up: inout [Float], down: inout [Float], rng: inout RandomStream) {
        dw.storage.withUnsafeBufferPointer { d in
            chi.withUnsafeMutableBufferPointer { x in
                up.withUnsafeMutableBufferPointer { pu in
                    down.withUnsafeMutableBufferPointer { pd in
                        for i in 0..<x.count { send(i, d[i], step: step, x, pu, pd, &rng) }
                    }
                }
            }
        }
        accumulatorOps += chi.count
    }

    /// Adds `values` (one per row) to column `column` of χ (`cols` columns) and writes that column's
    /// pulse counts into `up` and `down` (the caller keeps the other entries at zero): Tiki-Taka v2's
    /// buffer H receiving one column read from A.
    func transfer(
        column j: Int, cols: Int, values: [Float], step: Float, up: inout [Float], down: inout [Float],
        rng: inout RandomStream
    ) {
        chi.withUnsafeMutableBufferPointer { x in
            up.withUnsafeMutableBufferPointer { pu in
                down.withUnsafeMutableBufferPointer { pd in
                    for (r, v) in values.enumerated() { send(r * cols + j, v, step: step, x, pu, pd, &rng) }
                }
            }
        }
        accumulatorOps += values.count
    }

    /// χ_i += d, then the pulses where |χ_i| reaches the threshold (rounded, capped) leave χ_i.
    @inline(__always)
    private func send(
        _ i: Int, _ d: Float, step: Float, _ x: UnsafeMutableBufferPointer<Float>,
        _ pu: UnsafeMutableBufferPointer<Float>,
        _ pd: UnsafeMutableBufferPointer<Float>, _ rng: inout RandomStream
    ) {
        x[i] += d
        if levelSteps > 0 {
            // Fixed point: the nearest level, saturating at the range (in weight units: × step).
            let q = levelSteps * step, r = range * step
            x[i] = Swift.min(Swift.max((x[i] / q).rounded() * q, -r), r)
        }
        let a = abs(x[i]) * (1 / step)  // as χ·(1/step), the form the direct counts use
        var m: Float = 0
        if a >= threshold {
            m = a.rounded(.down)
            // Only devices over the threshold draw: the stream advances with the transfers.
            if stochastic && Float(rng.uniform()) < a - m { m += 1 }
            m = Swift.min(m, cap)
        }
        let raise = x[i] > 0
        pu[i] = raise ? m : 0; pd[i] = raise ? 0 : m
        if m > 0 {
            x[i] -= (raise ? m : -m) * step
            // the register holds levels only
            if levelSteps > 0 { let q = levelSteps * step; x[i] = (x[i] / q).rounded() * q }
        }
    }

    /// χ for checkpoints, under `key`.
    func state(_ key: String = "chi") -> [String: [Float]] { [key: chi] }

    /// Restores χ from `s[key]`, checking its size.
    func restore(_ s: [String: [Float]], key: String = "chi") throws {
        guard let c = s[key] else { return }
        guard c.count == chi.count else {
            throw InputError("crossbar state '\(key)' has \(c.count) values, expected \(chi.count)")
        }
        guard let i = c.firstIndex(where: { !$0.isFinite }) else { chi = c; return }
        throw InputError("crossbar state '\(key)'[\(i)] = \(c[i]) is not finite")
    }
}
