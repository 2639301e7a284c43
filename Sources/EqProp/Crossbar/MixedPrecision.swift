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
    /// Devices pulsed and pulses sent by the last transfer, and digital accumulator operations
    /// (one add per synapse per update).
    private(set) var lastPulses = 0.0, lastDevices = 0, accumulatorOps = 0

    init(count: Int, update: UpdateParameters) {
        chi = [Float](repeating: 0, count: count)
        threshold = Float(update.transferThreshold); stochastic = update.transferRounding == .stochastic
        cap = Float(update.maxPulses)
    }

    /// Adds `dw` to χ and writes the pulse counts of the transfer into `up` (raise W) and `down`
    /// (lower W); `step` is the weight change of one mean device step.
    func transfer(_ dw: Matrix<Float>, step: Float, up: inout [Float], down: inout [Float], rng: inout RandomStream) {
        let n = chi.count, inv = 1 / step, threshold = self.threshold, cap = self.cap
        var pulses = 0.0, devices = 0
        dw.storage.withUnsafeBufferPointer { d in
            chi.withUnsafeMutableBufferPointer { x in
                up.withUnsafeMutableBufferPointer { pu in
                    down.withUnsafeMutableBufferPointer { pd in
                        for i in 0..<n {
                            x[i] += d[i]
                            let a = abs(x[i]) * inv
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
                                pulses += Double(m); devices += 1
                            }
                        }
                    }
                }
            }
        }
        lastPulses = pulses; lastDevices = devices; accumulatorOps += n
    }

    /// χ for checkpoints.
    var state: [String: [Float]] { ["chi": chi] }

    /// Restores χ (`chi`), checking its size.
    func restore(_ s: [String: [Float]]) throws {
        guard let c = s["chi"] else { return }
        guard c.count == chi.count else { throw InputError("crossbar state 'chi' has \(c.count) values, expected \(chi.count)") }
        guard let i = c.firstIndex(where: { !$0.isFinite }) else { chi = c; return }
        throw InputError("crossbar state 'chi'[\(i)] = \(c[i]) is not finite")
    }
}
