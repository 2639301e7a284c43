import Foundation

/// Conductance drift after programming, and the array as it reads at a later time.
///
/// A drifting device relaxes as G(t) = G(t₀)·((t + t₀)/t₀)^(−ν), t the time since the reference read
/// at t₀ after programming (`drift_t0`; PCM's structural relaxation, as aihwkit's PCM inference model
/// writes it), with ν drawn once per device, ν = |ν̄ + σ_ν·ξ| (`drift_nu`, `drift_nu_dtod`). Its 1/f
/// noise wanders further the longer ago it was programmed: S_G/G² = K/f (`flicker_k`) integrated from
/// 1/(t + t_read) to 1/(2·t_read) gives a relative σ of √(K·ln((t + t_read)/(2·t_read))) (0 for
/// t ≤ t_read), t_read = `t_step`: one Gaussian factor per device, time and draw. Devices hold
/// G = G_min + u·(G_max − G_min), so drift can take u below 0 (G below G_min): it is not clipped.
///
/// Global drift compensation (aihwkit's `GlobalDriftCompensation`) compares each array's response to
/// an all-ones input at t₀ and at t (Σ_i |(W·1)_i|, computed from the held weights without read
/// noise) and multiplies its outputs by the ratio: one digital scalar per array, applied after the ADC.
public enum Drift {
    /// The factor (t + t₀)/t₀)^(−ν) of a device with exponent ν at time t after the reference read.
    public static func factor(nu: Double, t: Double, t0: Double) -> Double { Foundation.pow((t + t0) / t0, -nu) }

    /// The relative σ of the 1/f wander at time t: √(K·ln((t + t_read)/(2·t_read))), 0 before t_read.
    public static func wander(flickerK k: Double, t: Double, tRead: Double) -> Double {
        k > 0 ? (k * max(Foundation.log((t + tRead) / (2 * tRead)), 0)).squareRoot() : 0
    }
}

extension CrossbarArray {
    /// The array `t` seconds after the reference read: the conductances of `reference` (a `state` of
    /// this array) drifted with each device's ν and the 1/f wander of draw `draw`; with `compensate`,
    /// the output gain that restores the summed |W·1| of the reference. Exactly stored weights do not
    /// drift. Streams: `xbar/<layer>/drift` (ν, the same for every time and draw; `/fast` for a
    /// Tiki-Taka array's A) and `xbar/<layer>/infer/draw<k>/t<t>` (the wander).
    public func age(to t: Double, from reference: [String: [Float]], draw: Int, compensate: Bool) throws {
        try restore(reference)
        lock.lock(); defer { lock.unlock() }
        let before = store.weights
        let d = spec.device, io = spec.forward
        let gRange = d.gMax - d.gMin
        let sigma = Drift.wander(flickerK: io.flickerK, t: t, tRead: io.tStep)
        for (k, cells) in store.allConductances.enumerated() {
            let tag = "xbar/\(layer)/drift" + (k == 0 ? "" : "/fast")
            var nus = RandomStream(seed: seed, stream: tag)
            var wander = RandomStream(
                seed: seed, stream: "xbar/\(layer)/infer/draw\(draw)/t\(t)" + (k == 0 ? "" : "/fast"))
            func aged(_ u: Float) -> Float {
                let nu = abs(d.driftNu + d.driftNuDtod * nus.normal())
                let g =
                    (d.gMin + Double(u) * gRange) * Drift.factor(nu: nu, t: t, t0: d.driftT0)
                    * (1 + sigma * wander.normal())
                return Float((g - d.gMin) / gRange)
            }
            for i in 0..<cells.count {
                cells.uPos[i] = aged(cells.uPos[i])
                if cells.pairs { cells.uNeg[i] = aged(cells.uNeg[i]) }
            }
            cells.cachedWeights = nil; cells.cachedH = nil
        }
        store.conductancesChanged()
        conductancesChanged()
        var gain: Float = 1
        if compensate {
            func summedRowSums(_ w: Matrix<Float>) -> Double {
                (0..<w.rows).reduce(0.0) { acc, i in acc + abs((0..<w.cols).reduce(0.0) { $0 + Double(w[i, $1]) }) }
            }
            let now = summedRowSums(store.weights)
            gain = now > 0 ? Float(summedRowSums(before) / now) : 1
        }
        readPath.clearCaches(); backwardPath.clearCaches()
        readPath.outputGain = gain; backwardPath.outputGain = gain
    }
}
