import Foundation

/// Writes weight updates into conductance storage as device pulses.
///
/// ΔW = Σ_k scale_k·post_kᵀ·pre_k becomes pulses per device (push–pull: u⁺ gets +ΔW/(2w_fs), u⁻ gets
/// −ΔW/(2w_fs); the reference mapping gives its single device the same Δu), either as pulse counts
/// n = Δu/`meanStep` (rounded as `rounding` says, capped at `max_pulses`) or as aihwkit's stochastic
/// pulse trains. Each pulsed device then moves along its law's response with cycle-to-cycle noise,
/// is clipped, quantized to the grid, and stuck devices stay where they are.
///
/// Random stream: `xbar/<layer>/write` (count rounding, pulse trains, c2c, write noise, grid
/// rounding), re-derived per epoch as `xbar/<layer>/epoch<e>/write`.
final class PulseProgrammer {
    let scheme: Programming
    let rounding: Rounding
    let bl: Int
    /// aihwkit's `update_bl_management`: BL chosen per sample (see `PulseTrains`).
    let blManagement: Bool
    let cap: Float
    /// Mean Δu of one pulse (the law's), the unit of pulse counts.
    let meanStep: Float
    /// NeuroSim's c2c σ per √pulse (fraction of range), and aihwkit's per-pulse relative σ.
    let c2c: Float, dwMinStd: Float
    /// Whether aihwkit's per-pulse c2c is additive (σ·step·ξ) rather than multiplicative.
    let additiveNoise: Bool

    var rng: RandomStream
    /// Pulses fired and devices pulsed so far (both devices of a push–pull pair count).
    private(set) var pulsesFired = 0.0, devicesPulsed = 0
    /// Write energy (J) and programming time (s) so far (`WriteEnergy`).
    private(set) var writeEnergy = 0.0, writeLatency = 0.0
    let energyModel: WriteEnergy
    /// The digital accumulator of the mixed-precision scheme (nil: direct programming).
    let accumulator: MixedPrecisionAccumulator?
    /// Normals of the write path (c2c, write noise), drawn from `rng` in blocks.
    var normals = NormalPool()

    // Scratch kept between updates (a fresh 4n-byte buffer per update costs page faults).
    private var upScratch: [Float] = [], downScratch: [Float] = [], uniformScratch: [Float] = []
    private var movedScratch: [Int32] = []
    private var dwScratch = Matrix<Float>(rows: 0, cols: 0)

    init(spec: DeviceSpec, meanStep: Double, rng: RandomStream, count: Int) {
        scheme = spec.programming; rounding = spec.rounding; bl = spec.bl; blManagement = spec.blManagement;
        cap = Float(spec.maxPulses)
        accumulator =
            spec.scheme == .mixedPrecision ? MixedPrecisionAccumulator(count: count, update: spec.update) : nil
        self.meanStep = Float(meanStep)
        c2c = Float(spec.c2c); dwMinStd = Float(spec.dwMinStd); additiveNoise = !spec.multNoise
        energyModel = WriteEnergy(spec.device)
        self.rng = rng
    }

    /// A new write stream (a training epoch starts).
    func reset(_ stream: RandomStream) { rng = stream; normals = NormalPool() }

    /// Applies Σ_k scale_k·post_kᵀ·pre_k to `cells` as pulses on devices whose responses are in `pos`
    /// and `neg` (G⁺ and G⁻ devices).
    func program(_ terms: [UpdateTerm], into cells: ConductanceStorage, pos: any ResponseTable, neg: any ResponseTable)
    {
        let n = cells.count
        // Pulses that raise W (G⁺ up, G⁻ down) and that lower it, per device.
        var up: [Float] = [], down: [Float] = []
        swap(&up, &upScratch); swap(&down, &downScratch)
        defer { swap(&up, &upScratch); swap(&down, &downScratch) }
        if up.count != n { up = [Float](repeating: 0, count: n); down = up }
        if let acc = accumulator {
            if dwScratch.count != n { dwScratch = Matrix<Float>(rows: cells.rows, cols: cells.cols) }
            for (k, t) in terms.enumerated() {
                gemm(t.post, transposeA: true, t.pre, into: &dwScratch, alpha: t.scale, beta: k == 0 ? 0 : 1)
            }
            acc.transfer(dwScratch, step: cells.pulseGain * meanStep, up: &up, down: &down, rng: &rng)
            apply(up: up, down: down, to: cells, pos: pos, neg: neg)
            return
        }
        switch scheme {
        case .deterministic:
            if dwScratch.count != n { dwScratch = Matrix<Float>(rows: cells.rows, cols: cells.cols) }
            for (k, t) in terms.enumerated() {
                gemm(t.post, transposeA: true, t.pre, into: &dwScratch, alpha: t.scale, beta: k == 0 ? 0 : 1)
            }
            counts(dw: dwScratch, inverseUnit: 1 / (cells.pulseGain * meanStep), up: &up, down: &down)
        case .stochastic:
            up.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            down.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            let slots = PulseTrains.coincidences(
                terms, bl: bl, blManagement: blManagement, unit: cells.pulseGain * meanStep, rows: cells.rows,
                cols: cells.cols,
                rng: &rng, up: &up, down: &down)
            let cap = self.cap
            up.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = min(p[i], cap) } }
            down.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = min(p[i], cap) } }
            writeLatency += Double(slots) * (energyModel.upWidth + energyModel.downWidth)
            apply(up: up, down: down, to: cells, pos: pos, neg: neg, rowByRow: false)
            return
        }
        apply(up: up, down: down, to: cells, pos: pos, neg: neg)
    }

    /// Applies pulse counts decided elsewhere (`up` raises W, `down` lowers it): compound schemes that
    /// count their own transfers (Tiki-Taka's transfers into C, through v2's buffer or as v1's counts).
    func program(
        up: [Float], down: [Float], into cells: ConductanceStorage, pos: any ResponseTable, neg: any ResponseTable
    ) {
        apply(up: up, down: down, to: cells, pos: pos, neg: neg)
    }

    /// Pulse counts of a deterministic update: n = |ΔW|/(2·w_fs·meanStep) per device, capped, then
    /// rounded to nearest or stochastically. Counts are capped before rounding, which is the same as
    /// after since the cap is an integer; the 1.5·2^23 trick rounds.
    private func counts(dw: Matrix<Float>, inverseUnit inv: Float, up: inout [Float], down: inout [Float]) {
        let n = dw.count, cap = self.cap, magic: Float = 12_582_912
        let stochastic = rounding == .stochastic
        if stochastic {
            if uniformScratch.count != n { uniformScratch = [Float](repeating: 0, count: n) }
            uniformScratch.withUnsafeMutableBufferPointer { rng.fillUniform($0) }
        }
        dw.storage.withUnsafeBufferPointer { pd in
            uniformScratch.withUnsafeBufferPointer { pr in
                up.withUnsafeMutableBufferPointer { pu in
                    down.withUnsafeMutableBufferPointer { pn in
                        if stochastic {
                            for i in 0..<n {
                                let want = pd[i] * inv, a = Swift.min(abs(want), cap)
                                var f = (a + magic) - magic
                                f = f > a ? f - 1 : f  // ⌊a⌋
                                let m = f + (pr[i] < a - f ? 1 : 0)
                                pu[i] = want > 0 ? m : 0; pn[i] = want < 0 ? m : 0
                            }
                        } else {
                            for i in 0..<n {
                                let want = pd[i] * inv
                                let m = (Swift.min(abs(want), cap) + magic) - magic
                                pu[i] = want > 0 ? m : 0; pn[i] = want < 0 ? m : 0
                            }
                        }
                    }
                }
            }
        }
    }

    /// `apply` with the response tables' concrete types known to the compiler for the built-in laws'
    /// tables, so the per-device responses inline into the pulse loop (through the protocol they cost
    /// a call each); any other table (a law of your own) takes the generic path.
    private func apply(
        up: [Float], down: [Float], to cells: ConductanceStorage, pos: any ResponseTable, neg: any ResponseTable,
        rowByRow: Bool = true
    ) {
        if let p = pos as? GeometricTable, let q = neg as? GeometricTable {
            applyTyped(up: up, down: down, to: cells, pos: p, neg: q, rowByRow: rowByRow)
        } else {
            applyTyped(up: up, down: down, to: cells, pos: pos, neg: neg, rowByRow: rowByRow)
        }
    }

    /// Moves every device that gets pulses, patching the storage's cached weights and noise weights
    /// where devices moved (a rebuild is two passes over every device; an update moves a fraction).
    private func applyTyped<P: ResponseTable, N: ResponseTable>(
        up: [Float], down: [Float], to cells: ConductanceStorage, pos tPos: P, neg tNeg: N,
        rowByRow: Bool = true
    ) {
        if cells.mapping == .oneSided {
            return applyOneSided(up: up, down: down, to: cells, pos: tPos, neg: tNeg, rowByRow: rowByRow)
        }
        let n = cells.count
        let countEnergy = energyModel.counts, model = energyModel
        var energy = 0.0
        if countEnergy && rowByRow {
            writeLatency += model.rowByRow(
                up: up, down: down, rows: cells.rows, cols: cells.cols, pushPull: cells.pushPull)
        }
        defer { writeEnergy += energy }
        let pushPull = cells.pushPull, hasWriteNoise = cells.hasWriteNoise
        var rng = self.rng, normals = self.normals
        defer { self.rng = rng; self.normals = normals }
        var w: Matrix<Float>? = nil, h: Matrix<Float>? = nil
        swap(&w, &cells.cachedWeights); swap(&h, &cells.cachedH)
        let fs = cells.fullScale, wn = cells.writeNoiseScale, gain = cells.gain, r = cells.offset
        // The device arrays are moved into locals for the loop (no exclusivity checks per element).
        var gp: [Float] = [], gn: [Float] = [], np: [Float] = [], nn: [Float] = []
        swap(&gp, &cells.uPos); swap(&gn, &cells.uNeg); swap(&np, &cells.writeNoisePos); swap(&nn, &cells.writeNoiseNeg)
        defer {
            swap(&gp, &cells.uPos); swap(&gn, &cells.uNeg); swap(&np, &cells.writeNoisePos);
            swap(&nn, &cells.writeNoiseNeg)
        }
        var ww = w?.storage ?? [], hh = h?.storage ?? []
        w?.storage = []; h?.storage = []
        let patchW = w != nil, patchH = h != nil
        // Indices of the devices that get pulses, collected without branches: a typical update moves
        // a random part of them, and a branch per device would mispredict.
        if movedScratch.count != n { movedScratch = [Int32](repeating: 0, count: n) }
        var movedCount = 0
        var sent = 0.0  // pulses per pair, summed (Double: a large update exceeds Float's exact integers)
        up.withUnsafeBufferPointer { pu in
            down.withUnsafeBufferPointer { pd in
                movedScratch.withUnsafeMutableBufferPointer { m in
                    // Counts are ≥ 0, so "moved" ⇔ the sum's bit pattern is not 0: (v | −v) >> 31.
                    @inline(__always) func collect(_ i: Int) {
                        m[movedCount] = Int32(truncatingIfNeeded: i)
                        let v = (pu[i] + pd[i]).bitPattern
                        movedCount &+= Int((v | (0 &- v)) >> 31)
                    }
                    // Eight devices at a time, skipped together when none moves (most of them, on EP's
                    // small updates); the same list, in the same order, as one device at a time. (Scalar
                    // code on purpose: SIMD masks (`.!=`, `any`) compile lane by lane through memory here.)
                    var i = 0
                    while i &+ 8 <= n {
                        var bits: UInt32 = 0
                        for k in i..<(i &+ 8) { bits |= (pu[k] + pd[k]).bitPattern }
                        if bits != 0 { for k in i..<(i &+ 8) { collect(k) } }
                        i &+= 8
                    }
                    while i < n { collect(i); i &+= 1 }
                }
            }
        }
        // Three passes over the moved devices: the costs (at the conductances before the pulses),
        // the pulses, the patches of the cached weights and noise weights.
        up.withUnsafeBufferPointer { pu in
            down.withUnsafeBufferPointer { pd in
                movedScratch.withUnsafeBufferPointer { moved in
                    gp.withUnsafeMutableBufferPointer { gp in
                        gn.withUnsafeMutableBufferPointer { gn in
                            if countEnergy {
                                for k in 0..<movedCount {
                                    let i = Int(moved[k])
                                    energy += model.energy(u: gp[i], up: pu[i], down: pd[i])
                                    if pushPull { energy += model.energy(u: gn[i], up: pd[i], down: pu[i]) }
                                }
                            }
                            for k in 0..<movedCount {
                                let i = Int(moved[k])
                                sent += Double(pu[i] + pd[i])
                            }
                            cells.stuckPos.withUnsafeBufferPointer { sp in
                                cells.stuckNeg.withUnsafeBufferPointer { sn in
                                    np.withUnsafeMutableBufferPointer { np in
                                        nn.withUnsafeMutableBufferPointer { nn in
                                            for k in 0..<movedCount {
                                                let i = Int(moved[k])
                                                gp[i] = pulse(
                                                    gp[i], tPos, i, up: pu[i], down: pd[i], stuck: sp[i], cells: cells,
                                                    rng: &rng, normals: &normals)
                                                if hasWriteNoise { np[i] = normals.next(&rng) }
                                                if pushPull {
                                                    gn[i] = pulse(
                                                        gn[i], tNeg, i, up: pd[i], down: pu[i], stuck: sn[i],
                                                        cells: cells,
                                                        rng: &rng, normals: &normals)
                                                    if hasWriteNoise { nn[i] = normals.next(&rng) }
                                                }
                                            }
                                            guard patchW || patchH else { return }
                                            ww.withUnsafeMutableBufferPointer { pw in
                                                hh.withUnsafeMutableBufferPointer { ph in
                                                    for k in 0..<movedCount {
                                                        let i = Int(moved[k])
                                                        if patchW {
                                                            var d = gp[i] - gn[i]
                                                            if hasWriteNoise { d += wn * (np[i] - nn[i]) }
                                                            pw[i] = gain * fs * d
                                                        }
                                                        if patchH {
                                                            let a = gp[i] + r, b = gn[i] + r; ph[i] = a * a + b * b
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Work counters: every moved pair's pulses, on one or both devices.
        let devicesPerSynapse = pushPull ? 2 : 1
        pulsesFired += sent * Double(devicesPerSynapse); devicesPulsed += movedCount * devicesPerSynapse
        w?.storage = ww; h?.storage = hh
        cells.cachedWeights = w; cells.cachedH = h
    }

    /// Refresh settings of one-sided pairs (thresholds and reset level in u, and its σ).
    private var refresh: (upper: Float, lower: Float, level: Float, sigma: Float) = (0.75, 0.25, 0, 0)
    /// One-sided pairs refreshed so far.
    private(set) var refreshes = 0

    func configureRefresh(_ d: DeviceParameters) {
        refresh = (Float(d.refreshUpper), Float(d.refreshLower), Float(d.resetLevel), Float(d.resetStd))
    }

    /// One-sided pairs: `up` potentiates G⁺, `down` potentiates G⁻ (no device is ever depressed).
    /// After its pulses a pair whose larger device is above `refresh_upper` and smaller above
    /// `refresh_lower` is refreshed: both devices are reset to `reset_level` ± `reset_std` (then
    /// clipped and snapped as any device) and the difference they held, d = u⁺ − u⁻, is written back
    /// as round(|d|/meanStep) potentiating pulses (at most `max_pulses`) on G⁺ (d > 0) or G⁻.
    private func applyOneSided<P: ResponseTable, N: ResponseTable>(
        up: [Float], down: [Float], to cells: ConductanceStorage,
        pos tPos: P, neg tNeg: N, rowByRow: Bool
    ) {
        var rng = self.rng, normals = self.normals
        defer { self.rng = rng; self.normals = normals }
        let model = energyModel
        if model.counts && rowByRow {
            // Both devices are potentiated, on different columns, at once: a row takes its largest count.
            writeLatency += model.rowByRow(
                up: zip(up, down).map { max($0, $1) }, down: [Float](repeating: 0, count: up.count),
                rows: cells.rows, cols: cells.cols, pushPull: false)
        }
        for i in 0..<cells.count where up[i] + down[i] > 0 {
            if up[i] > 0 {
                if model.counts { writeEnergy += model.energy(u: cells.uPos[i], up: up[i], down: 0) }
                cells.uPos[i] = pulse(
                    cells.uPos[i], tPos, i, up: up[i], down: 0, stuck: cells.stuckPos[i], cells: cells, rng: &rng,
                    normals: &normals)
                if cells.hasWriteNoise { cells.writeNoisePos[i] = normals.next(&rng) }
                pulsesFired += Double(up[i]); devicesPulsed += 1
            }
            if down[i] > 0 {
                if model.counts { writeEnergy += model.energy(u: cells.uNeg[i], up: down[i], down: 0) }
                cells.uNeg[i] = pulse(
                    cells.uNeg[i], tNeg, i, up: down[i], down: 0, stuck: cells.stuckNeg[i], cells: cells, rng: &rng,
                    normals: &normals)
                if cells.hasWriteNoise { cells.writeNoiseNeg[i] = normals.next(&rng) }
                pulsesFired += Double(down[i]); devicesPulsed += 1
            }
            let hi = max(cells.uPos[i], cells.uNeg[i]), lo = min(cells.uPos[i], cells.uNeg[i])
            guard hi > refresh.upper && lo > refresh.lower else { continue }
            refreshes += 1
            let d = cells.uPos[i] - cells.uNeg[i]
            let bp = tPos.bounds(device: i), bn = tNeg.bounds(device: i)
            let rp = refresh.level + (refresh.sigma > 0 ? refresh.sigma * normals.next(&rng) : 0)
            let rn = refresh.level + (refresh.sigma > 0 ? refresh.sigma * normals.next(&rng) : 0)
            cells.uPos[i] = cells.finish(rp, stuck: cells.stuckPos[i], lower: bp.lower, upper: bp.upper, rng: &rng)
            cells.uNeg[i] = cells.finish(rn, stuck: cells.stuckNeg[i], lower: bn.lower, upper: bn.upper, rng: &rng)
            let count = min((abs(d) / meanStep).rounded(), cap)
            if count > 0 {
                if d > 0 {
                    cells.uPos[i] = pulse(
                        cells.uPos[i], tPos, i, up: count, down: 0, stuck: cells.stuckPos[i], cells: cells, rng: &rng,
                        normals: &normals)
                } else {
                    cells.uNeg[i] = pulse(
                        cells.uNeg[i], tNeg, i, up: count, down: 0, stuck: cells.stuckNeg[i], cells: cells, rng: &rng,
                        normals: &normals)
                }
                pulsesFired += Double(count); devicesPulsed += 1
            }
            if cells.hasWriteNoise {
                cells.writeNoisePos[i] = normals.next(&rng); cells.writeNoiseNeg[i] = normals.next(&rng)
            }
        }
        cells.cachedWeights = nil; cells.cachedH = nil
    }

    /// Device i moved by `up` potentiating and `down` depressing pulses, with c2c noise, clipping and
    /// quantization; stuck devices do not move.
    @inline(__always)
    func pulse<T: ResponseTable>(
        _ u0: Float, _ table: T, _ i: Int, up: Float, down: Float, stuck: UInt8, cells: ConductanceStorage,
        rng: inout RandomStream, normals: inout NormalPool
    ) -> Float {
        if stuck != 0 { return u0 }
        var u = u0
        if up > 0 {
            let v = table.potentiated(u, device: i, pulses: up)
            let unit = additiveNoise ? table.unitStep(device: i, up: true) : 0
            u =
                v
                + c2cNoise(
                    v - u, unit: unit, floor: table.noiseFloor(device: i, at: u), pulses: up, rng: &rng,
                    normals: &normals)
        }
        if down > 0 {
            let v = table.depressed(u, device: i, pulses: down)
            let unit = additiveNoise ? table.unitStep(device: i, up: false) : 0
            u =
                v
                + c2cNoise(
                    u - v, unit: unit, floor: table.noiseFloor(device: i, at: u), pulses: down, rng: &rng,
                    normals: &normals)
        }
        let b = table.bounds(device: i)
        return cells.finish(u, stuck: 0, lower: b.lower, upper: b.upper, rng: &rng)
    }

    /// c2c noise of n pulses that moved the device by `moved`: NeuroSim's σ·√n (fraction of range),
    /// plus aihwkit's per-pulse noise of relative σ = dw_min_std: multiplicative, each pulse's step
    /// times (1 + σξ), whose sum over n pulses has σ·|moved|/√n; or additive (`unit` > 0, aihwkit's
    /// `mult_noise: false`), each pulse adding σ·unit·ξ whatever its state-dependent size, σ·unit·√n
    /// over n pulses. A law's noise floor f (aihwkit ExpStep's extra terms) adds σ·f per pulse to the
    /// same draw, so one pulse has σ·(|Δ| + f)·ξ, as in aihwkit.
    @inline(__always)
    func c2cNoise(
        _ moved: Float, unit: Float, floor: Float, pulses n: Float, rng: inout RandomStream, normals: inout NormalPool
    ) -> Float {
        var s: Float = 0
        if c2c > 0 { s += c2c * n.squareRoot() * normals.next(&rng) }
        if dwMinStd > 0 {
            let root = n.squareRoot()
            if additiveNoise {
                s += dwMinStd * unit * root * normals.next(&rng)
            } else {
                s += (dwMinStd * abs(moved) / root + dwMinStd * floor * root) * normals.next(&rng)
            }
        }
        return s
    }
}

/// One term of an update, `scale·postᵀ·pre` (post B × out, pre B × in).
struct UpdateTerm {
    let post: Matrix<Float>, pre: Matrix<Float>, scale: Float
}
