import Foundation

/// The weights of one array held as device conductances: the mapping of a weight onto devices, each
/// device's normalized conductance u = (G − G_min)/(G_max − G_min) ∈ [0, 1], its fault, its write
/// noise, and the conductance grid.
///
/// **Mapping.** Differential pair: W = w_fs·(u⁺ − u⁻), w_fs = w_max/√fan_in; initial weights are written
/// around mid-range, u± = ½ ± W/(2w_fs), so push–pull updates have room in both directions (one-sided
/// starts leave one device at G_min, where half of every update that needs it to go lower is clipped).
/// Reference mapping: one device per weight against a mid-range reference, W = 2w_fs·(u − ½); the
/// reference devices add read noise but are never programmed.
///
/// Random streams: `xbar/<layer>/faults` (the fault map); the initial write draws from the caller's
/// write stream (stochastic rounding onto the grid).
final class ConductanceStorage {
    let rows: Int, cols: Int, count: Int
    let mapping: Mapping
    /// Full-scale weight w_fs.
    let fullScale: Float
    /// Weight gain of a device's Δu: 1 for a pair (push–pull), 2 for one device against a reference.
    let gain: Float
    /// G_min/(G_max − G_min): the offset of u in the noise weights H.
    let offset: Float
    /// σ of the write noise the read sees, in u (write_noise_std · dw_min).
    let writeNoiseScale: Float
    let levels: Int
    let rounding: Rounding

    /// u of the G⁺ device (or the single device) and of the G⁻ (or reference) device.
    var uPos: [Float], uNeg: [Float]
    /// 0 = healthy, 1 = stuck at G_min, 2 = stuck at G_max (per device of each pair).
    var stuckPos: [UInt8], stuckNeg: [UInt8]
    /// Standard-normal write-noise draws, redrawn when a device is pulsed (empty without write noise).
    var writeNoisePos: [Float], writeNoiseNeg: [Float]

    /// Weights and noise weights, rebuilt lazily and patched where devices move.
    var cachedWeights: Matrix<Float>?
    var cachedH: Matrix<Float>?

    init(spec: DeviceSpec, weights w: Matrix<Float>, faults: inout RandomStream, write: inout RandomStream) {
        rows = w.rows; cols = w.cols; count = w.count
        mapping = spec.mapping
        fullScale = Float(spec.wMax / Double(w.cols).squareRoot())
        gain = spec.mapping == .reference ? 2 : 1
        offset = Float(spec.gMin / (spec.gMax - spec.gMin))
        writeNoiseScale = Float(spec.writeNoiseStd * spec.device.dwMinFraction)
        levels = spec.levels; rounding = spec.rounding
        let n = w.count
        func faultMap() -> [UInt8] {
            (0..<n).map { _ in
                let u = faults.uniform()
                return u < spec.stuckMin ? 1 : (u < spec.stuckMin + spec.stuckMax ? 2 : 0)
            }
        }
        stuckPos = faultMap(); stuckNeg = faultMap()
        writeNoisePos = [Float](repeating: 0, count: spec.writeNoiseStd > 0 ? n : 0)
        writeNoiseNeg = writeNoisePos
        let fs = fullScale
        uPos = w.storage.map { min(max(0.5 + $0 / (2 * fs), 0), 1) }
        switch spec.mapping {
        case .differential:
            uNeg = w.storage.map { min(max(0.5 - $0 / (2 * fs), 0), 1) }
            for i in 0..<n {
                uPos[i] = finish(uPos[i], stuck: stuckPos[i], rng: &write)
                uNeg[i] = finish(uNeg[i], stuck: stuckNeg[i], rng: &write)
            }
        case .oneSided:
            // Each sign of the weight on its own device, the other at G_min (aihwkit's set_weights).
            uPos = w.storage.map { min(max($0 / fs, 0), 1) }
            uNeg = w.storage.map { min(max(-$0 / fs, 0), 1) }
            for i in 0..<n {
                uPos[i] = finish(uPos[i], stuck: stuckPos[i], rng: &write)
                uNeg[i] = finish(uNeg[i], stuck: stuckNeg[i], rng: &write)
            }
        case .reference:
            uNeg = [Float](repeating: 0.5, count: n)
            stuckNeg = [UInt8](repeating: 0, count: n)
            for i in 0..<n { uPos[i] = finish(uPos[i], stuck: stuckPos[i], rng: &write) }
        }
    }

    /// Whether both devices of a weight are programmed (push–pull).
    var pushPull: Bool { mapping == .differential }
    /// Whether the second device of a weight is programmed too (a pair), not a fixed reference.
    var pairs: Bool { mapping != .reference }
    /// ΔW of one pulse per unit of Δu per pulse (`meanStep`): a push–pull pair or a reference
    /// device moves W by 2·w_fs·Δu, one device of a one-sided pair by w_fs·Δu.
    var pulseGain: Float { mapping == .oneSided ? fullScale : 2 * fullScale }
    var hasWriteNoise: Bool { !writeNoisePos.isEmpty }

    /// W_ij from the device states of weight i.
    @inline(__always)
    func weight(_ i: Int) -> Float {
        var d = uPos[i] - uNeg[i]
        if writeNoiseScale > 0 { d += writeNoiseScale * (writeNoisePos[i] - writeNoiseNeg[i]) }
        return gain * fullScale * d
    }

    /// What the array holds now (programmed conductances and write noise, no read noise).
    var weights: Matrix<Float> {
        if let w = cachedWeights { return w }
        var w = Matrix<Float>(rows: rows, cols: cols)
        for i in 0..<count { w.storage[i] = weight(i) }
        cachedWeights = w
        return w
    }

    /// H = (u⁺ + r)² + (u⁻ + r)², r = G_min/(G_max − G_min): the weight of each device pair in the
    /// variance of multiplicative (conductance) read noise.
    var noiseWeights: Matrix<Float> {
        if let h = cachedH { return h }
        var h = Matrix<Float>(rows: rows, cols: cols)
        let r = offset
        for i in 0..<count { let a = uPos[i] + r, b = uNeg[i] + r; h.storage[i] = a * a + b * b }
        cachedH = h
        return h
    }

    /// Clip to the device's bounds (the nominal range [0, 1] unless its law says otherwise), snap to
    /// the conductance grid (levels spaced 1/(levels − 1) from u = 0; stochastic rounding draws from
    /// `rng`), and pin stuck devices.
    @inline(__always)
    func finish(_ u: Float, stuck: UInt8, lower: Float = 0, upper: Float = 1, rng: inout RandomStream) -> Float {
        if stuck == 1 { return 0 }
        if stuck == 2 { return 1 }
        var v = min(max(u, lower), upper)
        if levels >= 2 {
            let q = Float(levels - 1)
            let x = v * q
            switch rounding {
            case .nearest: v = x.rounded() / q
            case .stochastic: let f = x.rounded(.down); v = (f + (Float(rng.uniform()) < x - f ? 1 : 0)) / q
            }
            v = min(max(v, lower), upper)
        }
        return v
    }

    /// The range of u that restored states may hold: [0, 1], widened by ProgrammedConductances to
    /// the devices' own bounds when the law spreads them.
    var envelope: ClosedRange<Float> = 0...1

    /// Device state for checkpoints: u of G⁺ and G⁻ and the write-noise draws. Device parameters and
    /// faults are not stored: they are re-drawn from the seed and match.
    var state: [String: [Float]] {
        var s = ["g_pos": uPos, "g_neg": uNeg]
        if hasWriteNoise { s["wn_pos"] = writeNoisePos; s["wn_neg"] = writeNoiseNeg }
        return s
    }

    func restore(_ s: [String: [Float]]) throws {
        for (k, v) in s {
            guard v.count == count else {
                throw InputError("crossbar state '\(k)' has \(v.count) values, expected \(count)")
            }
            if k == "g_pos" || k == "g_neg", let i = v.firstIndex(where: { !envelope.contains($0) }) {
                throw InputError(
                    "crossbar state '\(k)'[\(i)] = \(v[i]) is outside the devices' normalized conductance range "
                        + "[\(envelope.lowerBound), \(envelope.upperBound)]"
                )
            }
            switch k {
            case "g_pos": uPos = v
            case "g_neg": uNeg = v
            case "wn_pos": writeNoisePos = v
            case "wn_neg": writeNoiseNeg = v
            default: throw InputError("unknown crossbar state '\(k)'")
            }
        }
        cachedWeights = nil; cachedH = nil
    }
}
