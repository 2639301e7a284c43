import Foundation

/// One weight matrix stored on a simulated memristive crossbar.
///
/// **Mapping.** Differential pair: W = w_fs·(u⁺ − u⁻), u = (G − G_min)/(G_max − G_min) ∈ [0, 1],
/// w_fs = w_max/√fan_in. Initial weights are written around mid-range: u± = ½ ± W/(2w_fs).
/// Reference mapping: one device per weight against a mid-range reference, W = 2w_fs·(u − ½); the
/// reference devices add read noise but are never programmed (a shared reference column's noise would
/// be common to all outputs; here each line's reference noise is independent).
/// The `ideal` model stores W itself and reads and writes it with the same BLAS calls as `DenseArray`,
/// so training on it is bit-identical to the software engine.
///
/// **Reads** (both directions on the same devices):
/// `y = ADC( W_eff·DAC(x) + w_fs·√(Σ_j H_ij x_j²)·ν_i(t) + σ_white·ξ )`, with W_eff the programmed
/// weights (plus write noise), H = (u⁺ + r)² + (u⁻ + r)², r = G_min/(G_max − G_min), and ν_i(t) the
/// relative conductance noise of output line i at simulated time t: flicker (1/f^γ) plus telegraph
/// (Lorentzian) traces synthesized with FFTW. This output-referred form has, for a constant input,
/// the variance α²σ_n²Σ_j(G⁺² + G⁻²)x_j² and the spectrum of independent per-device noise
/// (multiplicative, Hooge); it shares ν across the batch (all rows are read at the same instant).
/// The transposed read uses its own traces, one per input line.
///
/// **Writes**: ΔW = scale·postᵀ·pre is turned into pulses (push–pull: u⁺ gets +ΔW/(2w_fs), u⁻ gets
/// −ΔW/(2w_fs)), either as pulse counts n = ΔU/ΔU_step (rounded as `rounding` says, capped at
/// `max_pulses`) or as stochastic pulse trains (aihwkit); each device then moves along its response
/// curve with cycle-to-cycle noise, is quantized to `levels` states, clipped to [0, 1], and stuck
/// devices stay where they are.
///
/// Random streams (seed, layer): `xbar/<layer>/d2d` (device parameters), `/faults`, `/write`
/// (pulses, c2c, rounding), `/read` (white noise; `/read/lane<k>` for the k-th concurrently relaxed
/// part of a batch), `/noise/<forward|transposed>/<block>` (flicker and telegraph traces of one
/// block of steps); during training the last two are re-derived per epoch under
/// `xbar/<layer>/epoch<e>`.
public final class CrossbarArray: SynapticArray, @unchecked Sendable {
    public typealias Scalar = Float
    public let spec: DeviceSpec
    public let outputs: Int
    public let inputs: Int
    /// Full-scale weight w_fs.
    public let fullScale: Float
    let count: Int

    // Ideal model: the weights themselves.
    var idealWeights: Matrix<Float>
    // Non-ideal models: normalized conductances of the G⁺ and G⁻ devices, and their parameters.
    var uPos: [Float], uNeg: [Float]
    var devPos: DeviceTable, devNeg: DeviceTable
    /// 0 = healthy, 1 = stuck at G_min, 2 = stuck at G_max (per device of each pair).
    var stuckPos: [UInt8], stuckNeg: [UInt8]
    var writeNoisePos: [Float], writeNoiseNeg: [Float]

    var writeRNG: RandomStream
    /// Normals of the write path (c2c, write noise), drawn from `writeRNG` in blocks.
    var writeNormals = NormalPool()

    // Scratch of `program`, kept between updates (a fresh 4n-byte buffer per update costs page faults).
    var upScratch: [Float] = [], downScratch: [Float] = [], uniformScratch: [Float] = []
    var movedScratch: [Int32] = []
    var dwScratch = Matrix<Float>(rows: 0, cols: 0)

    // Caches rebuilt after each update.
    var cachedWeights: Matrix<Float>? { didSet { if cachedWeights == nil { clearReadCaches() } } }
    var cachedH: Matrix<Float>?
    struct ReadCache { let input: Matrix<Float>; let clean: Matrix<Float>; let s2: Matrix<Float> }

    /// Relative-conductance noise of the lines of one read direction for `usable` consecutive steps,
    /// time-major (`values[t·lines + line]`), so that one step's values are contiguous.
    struct TraceBlock { let lines: Int; let values: [Float] }
    /// What one read lane owns: its white-noise stream (`…/read`, lane k > 0: `…/read/lane<k>`), the
    /// last forward [0] and transposed [1] read (input, clean product, noise weights), its scratch,
    /// and its clock: trace block number, sample within the block and simulated time.
    final class ReadLane {
        var rng: RandomStream
        var cache: [ReadCache?] = [nil, nil]
        var white: [Float] = []
        var block = 0, timeIndex = 0
        var time: Double = 0
        /// The traces of the current block, forward [0] and transposed [1], fetched at first use.
        var traces: [TraceBlock?] = [nil, nil]
        init(rng: RandomStream) { self.rng = rng }
    }
    var lanes: [ReadLane]
    /// Stream prefix of the read lanes: `xbar/<layer>`, then `xbar/<layer>/epoch<e>` once epochs run.
    var laneTag: String

    // Time-correlated noise: blocks of traces numbered from the start of the epoch, each direction's
    // block k drawn from its own stream when a lane first needs it (so it does not depend on which
    // lane gets there first, and the transposed traces of a layer that is never read transposed —
    // the input layer — are never drawn). Key: 2k + direction. Only the newest two blocks are kept;
    // a lane that falls further behind draws its block again, with the same values.
    let noise: [NoiseSynthesizer]
    var traceBlocks: [Int: TraceBlock] = [:]
    let traceLock = NSLock()
    /// Total simulated time elapsed (s).
    public var time: Double { lanes[0].time }

    public var isIdealModel: Bool { spec.model == .ideal }
    var hasMultiplicativeNoise: Bool { !noise.isEmpty }

    let seed: UInt64
    let layer: Int

    /// Creates the array for a layer (out × in) holding `weights`, with streams from (seed, layer).
    public init(spec: DeviceSpec, weights w: Matrix<Float>, seed: UInt64, layer: Int) {
        self.spec = spec
        self.seed = seed; self.layer = layer
        outputs = w.rows; inputs = w.cols; count = w.count
        fullScale = Float(spec.wMax / Double(w.cols).squareRoot())
        idealWeights = w
        let tag = "xbar/\(layer)"
        var d2d = RandomStream(seed: seed, stream: tag + "/d2d")
        var faults = RandomStream(seed: seed, stream: tag + "/faults")
        writeRNG = RandomStream(seed: seed, stream: tag + "/write")
        laneTag = tag
        lanes = [ReadLane(rng: RandomStream(seed: seed, stream: tag + "/read"))]
        var synths: [NoiseSynthesizer] = []
        if spec.flickerK > 0 {
            synths.append(NoiseSynthesizer(spectrum: .flicker(k: spec.flickerK, gamma: spec.flickerGamma), length: spec.noiseLength, dt: spec.tStep))
        }
        if spec.rtnAmplitude > 0 {
            synths.append(NoiseSynthesizer(spectrum: .lorentzian(amplitude: spec.rtnAmplitude, tau0: spec.rtnTau0, tau1: spec.rtnTau1), length: spec.noiseLength, dt: spec.tStep))
        }
        noise = synths
        if spec.model == .ideal {
            uPos = []; uNeg = []; devPos = DeviceTable(); devNeg = DeviceTable(); stuckPos = []; stuckNeg = []; writeNoisePos = []; writeNoiseNeg = []
        } else {
            let n = w.count
            let nominal = DeviceResponse.draw(spec, &d2d)
            if DeviceResponse.hasSpread(spec) {
                devPos = DeviceTable(nominal: nominal, perDevice: (0..<n).map { _ in DeviceResponse.draw(spec, &d2d, nominal: nominal) })
                devNeg = DeviceTable(nominal: nominal, perDevice: (0..<n).map { _ in DeviceResponse.draw(spec, &d2d, nominal: nominal) })
            } else {
                devPos = DeviceTable(nominal: nominal, maxPulses: spec.maxPulses); devNeg = devPos
            }
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
            switch spec.mapping {
            case .differential:
                // Mid-point programming: both devices start at ½ ± W/(2w_fs), so push–pull updates have
                // room in both directions (one-sided starts leave one device at G_min, where half of
                // every update that needs it to go lower is clipped).
                uPos = w.storage.map { min(max(0.5 + $0 / (2 * fs), 0), 1) }
                uNeg = w.storage.map { min(max(0.5 - $0 / (2 * fs), 0), 1) }
                for i in 0..<n {
                    uPos[i] = finish(uPos[i], stuck: stuckPos[i], rng: &writeRNG)
                    uNeg[i] = finish(uNeg[i], stuck: stuckNeg[i], rng: &writeRNG)
                }
            case .reference:
                // The reference devices sit at mid-range and are never programmed.
                uPos = w.storage.map { min(max(0.5 + $0 / (2 * fs), 0), 1) }
                uNeg = [Float](repeating: 0.5, count: n)
                stuckNeg = [UInt8](repeating: 0, count: n)
                for i in 0..<n { uPos[i] = finish(uPos[i], stuck: stuckPos[i], rng: &writeRNG) }
            }
        }
    }

    // MARK: SynapticArray

    public var readsAreExact: Bool {
        spec.dacBits == 0 && spec.adcBits == 0 && spec.whiteNoise == 0 && !hasMultiplicativeNoise
    }

    /// What the array holds now (programmed conductances, no read noise).
    public var weights: Matrix<Float> {
        if isIdealModel { return idealWeights }
        if let w = cachedWeights { return w }
        var w = Matrix<Float>(rows: outputs, cols: inputs)
        let fs = fullScale, wn = Float(spec.writeNoiseStd * spec.dwMin)
        let gain: Float = spec.mapping == .reference ? 2 : 1
        for i in 0..<count {
            var d = uPos[i] - uNeg[i]
            if wn > 0 { d += wn * (writeNoisePos[i] - writeNoiseNeg[i]) }
            w.storage[i] = gain * fs * d
        }
        cachedWeights = w
        return w
    }

    public func multiply(_ x: Matrix<Float>, into y: inout Matrix<Float>, accumulate: Bool, lane: Int) {
        read(x, transposed: false, into: &y, accumulate: accumulate, lane: lanes[lane])
    }

    public func multiplyTransposed(_ y: Matrix<Float>, into x: inout Matrix<Float>, accumulate: Bool, lane: Int) {
        read(y, transposed: true, into: &x, accumulate: accumulate, lane: lanes[lane])
    }

    public func update(post: Matrix<Float>, pre: Matrix<Float>, scale: Float) {
        if isIdealModel {
            gemm(post, transposeA: true, pre, into: &idealWeights, alpha: scale, beta: 1)
            clearReadCaches()
            return
        }
        program([(post, pre, scale)])
    }

    public func updateContrastive(plus: (post: Matrix<Float>, pre: Matrix<Float>), minus: (post: Matrix<Float>, pre: Matrix<Float>), scale: Float) {
        if isIdealModel || spec.passes == .two {
            update(post: plus.post, pre: plus.pre, scale: scale)
            update(post: minus.post, pre: minus.pre, scale: -scale)
        } else {
            program([(plus.post, plus.pre, scale), (minus.post, minus.pre, -scale)])
        }
    }

    public func beginEpoch(_ epoch: Int) {
        let tag = "xbar/\(layer)/epoch\(epoch)"
        writeRNG = RandomStream(seed: seed, stream: tag + "/write")
        writeNormals = NormalPool()
        laneTag = tag
        lanes = [ReadLane(rng: RandomStream(seed: seed, stream: tag + "/read"))]
        traceBlocks = [:]
    }

    public func clockTick(_ event: ClockEvent, lane k: Int) {
        if readsAreExact { return }   // nothing depends on time (and ideal arrays may be read concurrently)
        let lane = lanes[k]
        let steps: Int
        switch event {
        case .step: steps = 1; lane.time += spec.tStep
        case .phaseGap: steps = Int((spec.phaseGap / spec.tStep).rounded()); lane.time += spec.phaseGap
        }
        guard hasMultiplicativeNoise else { return }
        lane.timeIndex += steps
        if lane.timeIndex >= noise[0].usable {
            lane.timeIndex = 0; lane.block += 1
            lane.traces = [nil, nil]
        }
    }

    public var supportsLanes: Bool { true }

    public var updatesAreExact: Bool { isIdealModel }

    public func prepareLanes(_ count: Int) {
        // Lanes share these caches and must not race to build them.
        _ = weights
        if hasMultiplicativeNoise && !isIdealModel { _ = noiseWeights() }
        while lanes.count < count {
            lanes.append(ReadLane(rng: RandomStream(seed: seed, stream: laneTag + "/read/lane\(lanes.count)")))
        }
        let first = lanes[0]
        for lane in lanes.dropFirst() {
            lane.block = first.block; lane.timeIndex = first.timeIndex; lane.time = first.time; lane.traces = first.traces
        }
    }

    // MARK: Read path

    /// Symmetric mid-tread quantizer of a DAC/ADC: step 2·bound/(2^bits − 2), 2^bits − 1 levels, clipped
    /// at ±bound (aihwkit's convention), rounding to the nearest level. bits = 0 means no converter.
    @inline(__always)
    static func quantize(_ p: UnsafeMutableBufferPointer<Float>, bits: Int, bound: Float) {
        if bits == 0 { return }
        let step = 2 * bound / Float((1 << bits) - 2), inv = 1 / step
        // Round to nearest (ties to even) with the 1.5·2^23 trick: |v/step| ≤ 2^23, and it vectorizes.
        let magic: Float = 12_582_912
        for i in 0..<p.count {
            let v = min(max(p[i], -bound), bound)
            p[i] = ((v * inv + magic) - magic) * step
        }
    }

    func read(_ input: Matrix<Float>, transposed: Bool, into out: inout Matrix<Float>, accumulate: Bool, lane: ReadLane) {
        if readsAreExact {
            let w = weights
            if transposed { gemm(input, w, into: &out, beta: accumulate ? 1 : 0) }
            else { gemm(input, w, transposeB: true, into: &out, beta: accumulate ? 1 : 0) }
            return
        }
        let multiplicative = hasMultiplicativeNoise && !isIdealModel
        // The clean product and the noise weights Σ_k H·x² depend only on the input and the held
        // weights: when the same input is read again before the next update (the data x, at every
        // step of both phases), they are reused and only the time-varying noise is drawn anew.
        let slot = transposed ? 1 : 0
        var y: Matrix<Float>, s2: Matrix<Float>
        if let c = lane.cache[slot], c.input == input {
            y = c.clean; s2 = c.s2
        } else {
            var x = input
            x.storage.withUnsafeMutableBufferPointer { Self.quantize($0, bits: spec.dacBits, bound: Float(spec.dacBound)) }
            y = Matrix<Float>(rows: out.rows, cols: out.cols)
            let w = weights
            if transposed { gemm(x, w, into: &y) } else { gemm(x, w, transposeB: true, into: &y) }
            s2 = Matrix<Float>(rows: 0, cols: 0)
            if multiplicative {
                // s2[b, line] = Σ_k H[line,k]·x[b,k]² (forward) or Σ_k H[k,line]·x[b,k]² (transposed).
                var x2 = x
                x2.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= p[i] } }
                s2 = Matrix<Float>(rows: y.rows, cols: y.cols)
                let h = noiseWeights()
                if transposed { gemm(x2, h, into: &s2) } else { gemm(x2, h, transposeB: true, into: &s2) }
            }
            lane.cache[slot] = ReadCache(input: input, clean: y, s2: s2)
        }
        // The per-element part: time-correlated noise ν_line(t), white noise, ADC.
        let rows = y.rows, cols = y.cols, n = y.count
        let white = Float(spec.whiteNoise)
        var traces = TraceBlock(lines: 0, values: [])
        if multiplicative {
            if lane.traces[slot] == nil { lane.traces[slot] = traceBlock(lane.block, transposed: transposed) }
            traces = lane.traces[slot]!
        }
        let nuStart = lane.timeIndex * cols
        let fs = fullScale
        if white > 0 && lane.white.count < n { lane.white = [Float](repeating: 0, count: n) }
        var rng = lane.rng
        traces.values.withUnsafeBufferPointer { pn in
            s2.storage.withUnsafeBufferPointer { ps in
                lane.white.withUnsafeMutableBufferPointer { pw in
                    y.storage.withUnsafeMutableBufferPointer { py in
                        if multiplicative {
                            for r in 0..<rows {
                                let base = r &* cols
                                for c in 0..<cols { py[base &+ c] += fs * FastMath.sqrt(ps[base &+ c]) * pn[nuStart &+ c] }
                            }
                        }
                        if white > 0 {
                            rng.fillNormal(UnsafeMutableBufferPointer(rebasing: pw[0..<n]), sigma: white)
                            for i in 0..<n { py[i] += pw[i] }
                        }
                        Self.quantize(py, bits: spec.adcBits, bound: Float(spec.adcBound))
                    }
                }
            }
        }
        lane.rng = rng
        if accumulate { Elementwise.axpy(1, y, &out) } else { out = y }
    }

    /// H = (u⁺ + r)² + (u⁻ + r)² (ideal model: W²/w_fs², no offset).
    func noiseWeights() -> Matrix<Float> {
        if let h = cachedH { return h }
        var h = Matrix<Float>(rows: outputs, cols: inputs)
        let r = Float(spec.gMin / (spec.gMax - spec.gMin))
        for i in 0..<count { let a = uPos[i] + r, b = uNeg[i] + r; h.storage[i] = a * a + b * b }
        cachedH = h
        return h
    }

    /// Block k of relative-conductance noise of every line of one read direction (the sum of the
    /// components), drawn from its own stream by the first lane that needs it.
    func traceBlock(_ k: Int, transposed: Bool) -> TraceBlock {
        traceLock.lock(); defer { traceLock.unlock() }
        let key = 2 * k + (transposed ? 1 : 0)
        if let b = traceBlocks[key] { return b }
        var rng = RandomStream(seed: seed, stream: laneTag + "/noise/" + (transposed ? "transposed" : "forward") + "/\(k)")
        let lines = transposed ? inputs : outputs, steps = noise[0].usable
        var values = [Float](repeating: 0, count: lines * steps)
        for line in 0..<lines {
            for s in noise {
                let tr = s.trace(using: &rng)
                for t in 0..<steps { values[t * lines + line] += tr[t] }
            }
        }
        let b = TraceBlock(lines: lines, values: values)
        traceBlocks = traceBlocks.filter { $0.key / 2 >= k - 1 }
        traceBlocks[key] = b
        return b
    }

    func clearReadCaches() { for lane in lanes { lane.cache = [nil, nil] } }

    // MARK: Programming

    /// Applies Σ_k scale_k·post_kᵀ·pre_k as device pulses.
    func program(_ terms: [(Matrix<Float>, Matrix<Float>, Float)]) {
        let n = count
        // Pulses that raise W (G⁺ up, G⁻ down) and that lower it, per device; scratch kept between updates.
        var up: [Float] = [], down: [Float] = []
        swap(&up, &upScratch); swap(&down, &downScratch)
        defer { swap(&up, &upScratch); swap(&down, &downScratch) }
        if up.count != n { up = [Float](repeating: 0, count: n); down = up }
        let stepMean = Float(DeviceResponse.meanStep(spec))
        let cap = Float(spec.maxPulses)
        switch spec.programming {
        case .deterministic:
            if dwScratch.count != n { dwScratch = Matrix<Float>(rows: outputs, cols: inputs) }
            for (k, t) in terms.enumerated() { gemm(t.0, transposeA: true, t.1, into: &dwScratch, alpha: t.2, beta: k == 0 ? 0 : 1) }
            // Each device of the pair carries half of ΔW/w_fs. Counts are capped before rounding,
            // which is the same as after since the cap is an integer; the 1.5·2^23 trick rounds.
            let inv = 1 / (2 * fullScale * stepMean), magic: Float = 12_582_912
            let stochastic = spec.rounding == .stochastic
            if stochastic {
                if uniformScratch.count != n { uniformScratch = [Float](repeating: 0, count: n) }
                uniformScratch.withUnsafeMutableBufferPointer { writeRNG.fillUniform($0) }
            }
            dwScratch.storage.withUnsafeBufferPointer { pd in
                uniformScratch.withUnsafeBufferPointer { pr in
                    up.withUnsafeMutableBufferPointer { pu in
                        down.withUnsafeMutableBufferPointer { pn in
                            if stochastic {
                                for i in 0..<n {
                                    let want = pd[i] * inv, a = Swift.min(abs(want), cap)
                                    var f = (a + magic) - magic
                                    f = f > a ? f - 1 : f                       // ⌊a⌋
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
        case .stochastic:
            for i in 0..<n { up[i] = 0; down[i] = 0 }
            stochasticCoincidences(terms, stepMean: stepMean, up: &up, down: &down)
            for i in 0..<n { up[i] = min(up[i], cap); down[i] = min(down[i], cap) }
        }
        // Either mapping gives each programmed device ΔU = ΔW/(2w_fs): push–pull splits it over the
        // pair, the reference mapping has gain 2 on its single device.
        let pushPull = spec.mapping == .differential
        let hasWriteNoise = !writeNoisePos.isEmpty
        var rng = writeRNG, normals = writeNormals
        defer { writeRNG = rng; writeNormals = normals }
        // The cached weights and noise weights are patched where devices moved (a full rebuild is
        // two passes over every device; an update moves a fraction of them).
        var w: Matrix<Float>? = nil, h: Matrix<Float>? = nil
        swap(&w, &cachedWeights); swap(&h, &cachedH)
        let fs = fullScale, wn = Float(spec.writeNoiseStd * spec.dwMin)
        let gain: Float = spec.mapping == .reference ? 2 : 1, r = Float(spec.gMin / (spec.gMax - spec.gMin))
        // The device arrays are moved into locals for the loop (no exclusivity checks per element).
        var gp: [Float] = [], gn: [Float] = [], np: [Float] = [], nn: [Float] = []
        swap(&gp, &uPos); swap(&gn, &uNeg); swap(&np, &writeNoisePos); swap(&nn, &writeNoiseNeg)
        defer { swap(&gp, &uPos); swap(&gn, &uNeg); swap(&np, &writeNoisePos); swap(&nn, &writeNoiseNeg) }
        var ww = w?.storage ?? [], hh = h?.storage ?? []
        w?.storage = []; h?.storage = []
        let patchW = w != nil, patchH = h != nil
        let tPos = devPos, tNeg = devNeg
        // Indices of the devices that get pulses, collected without branches: a typical update moves
        // a small, random fraction of them, and a branch per device would mispredict.
        if movedScratch.count != n { movedScratch = [Int32](repeating: 0, count: n) }
        var movedCount = 0
        up.withUnsafeBufferPointer { pu in down.withUnsafeBufferPointer { pd in
            movedScratch.withUnsafeMutableBufferPointer { m in
                for i in 0..<n {
                    m[movedCount] = Int32(truncatingIfNeeded: i)
                    // Counts are ≥ 0, so "moved" ⇔ the sum's bit pattern is not 0: (v | −v) >> 31.
                    let v = (pu[i] + pd[i]).bitPattern
                    movedCount &+= Int((v | (0 &- v)) >> 31)
                }
            }
        } }
        up.withUnsafeBufferPointer { pu in down.withUnsafeBufferPointer { pd in
        movedScratch.withUnsafeBufferPointer { moved in
        stuckPos.withUnsafeBufferPointer { sp in stuckNeg.withUnsafeBufferPointer { sn in
        gp.withUnsafeMutableBufferPointer { gp in gn.withUnsafeMutableBufferPointer { gn in
        np.withUnsafeMutableBufferPointer { np in nn.withUnsafeMutableBufferPointer { nn in
        ww.withUnsafeMutableBufferPointer { pw in hh.withUnsafeMutableBufferPointer { ph in
            for k in 0..<movedCount {
                let i = Int(moved[k])
                gp[i] = pulse(gp[i], tPos, i, up: pu[i], down: pd[i], stuck: sp[i], rng: &rng, normals: &normals)
                if hasWriteNoise { np[i] = normals.next(&rng) }
                if pushPull {
                    gn[i] = pulse(gn[i], tNeg, i, up: pd[i], down: pu[i], stuck: sn[i], rng: &rng, normals: &normals)
                    if hasWriteNoise { nn[i] = normals.next(&rng) }
                }
                if patchW {
                    var d = gp[i] - gn[i]
                    if hasWriteNoise { d += wn * (np[i] - nn[i]) }
                    pw[i] = gain * fs * d
                }
                if patchH { let a = gp[i] + r, b = gn[i] + r; ph[i] = a * a + b * b }
            }
        } } } } } } } } } } }
        w?.storage = ww; h?.storage = hh
        cachedWeights = w   // the clean products of the read caches are stale either way
        clearReadCaches()
        cachedH = h
    }

    /// aihwkit-style stochastic pulse trains: for every sample, input line j fires in each of BL
    /// slots with probability p_x = B|x_j| and output line i with p_d = A|d_i|; a coincidence is one
    /// pulse in the direction sign(scale·x_j·d_i). A·B·BL·ΔU_pulse = |scale|/(2w_fs), so
    /// E[ΔW_ij] = scale·x_j·d_i; update management balances A and B (A/B = x_max/d_max) so both
    /// maxima fire with the same probability. Probabilities above 1 saturate (the update falls short).
    func stochasticCoincidences(_ terms: [(Matrix<Float>, Matrix<Float>, Float)], stepMean: Float, up: inout [Float], down: inout [Float]) {
        let bl = spec.bl
        let mask: UInt64 = bl == 64 ? ~0 : (1 << UInt64(bl)) - 1
        var rowBits = [UInt64](repeating: 0, count: outputs)
        var colBits = [UInt64](repeating: 0, count: inputs)
        for (post, pre, scale) in terms {
            let lr = abs(scale) / (2 * fullScale * stepMean * Float(bl))   // A·B
            for b in 0..<post.rows {
                var dMax: Float = 0, xMax: Float = 0
                for i in 0..<outputs { dMax = max(dMax, abs(post[b, i])) }
                for j in 0..<inputs { xMax = max(xMax, abs(pre[b, j])) }
                if dMax == 0 || xMax == 0 || lr == 0 { continue }
                let a = (lr * xMax / dMax).squareRoot(), bb = (lr * dMax / xMax).squareRoot()
                func train(_ p: Float) -> UInt64 {
                    if p <= 0 { return 0 }
                    var bits: UInt64 = 0
                    for s in 0..<bl where Float(writeRNG.uniform()) < p { bits |= 1 << UInt64(s) }
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

    /// Device i of `table` moved by `up` potentiating and `down` depressing pulses, with c2c noise,
    /// clipping and quantization (`finish`); stuck devices do not move.
    @inline(__always)
    func pulse(_ u0: Float, _ table: DeviceTable, _ i: Int, up: Float, down: Float, stuck: UInt8,
               rng: inout RandomStream, normals: inout NormalPool) -> Float {
        if stuck != 0 { return u0 }
        let dev = table[i], decay = table.decays(i, up: up, down: down)
        var u = u0
        if up > 0 {
            let v = dev.potentiated(u, pulses: up, decay: decay.up)
            u = v + c2cNoise(v - u, pulses: up, rng: &rng, normals: &normals)
        }
        if down > 0 {
            let v = dev.depressed(u, pulses: down, decay: decay.down)
            u = v + c2cNoise(u - v, pulses: down, rng: &rng, normals: &normals)
        }
        return finish(u, stuck: 0, rng: &rng)
    }

    /// c2c noise of n pulses that moved the device by `moved`: NeuroSim's σ·√n (fraction of range),
    /// plus aihwkit's per-pulse (1 + dw_min_std·ξ) factors, whose sum has σ·|moved|/√n.
    @inline(__always)
    func c2cNoise(_ moved: Float, pulses n: Float, rng: inout RandomStream, normals: inout NormalPool) -> Float {
        var s: Float = 0
        if spec.c2c > 0 { s += Float(spec.c2c) * n.squareRoot() * normals.next(&rng) }
        if spec.dwMinStd > 0 { s += Float(spec.dwMinStd) * abs(moved) / n.squareRoot() * normals.next(&rng) }
        return s
    }

    /// Clip to [0, 1], snap to the conductance grid (stochastic rounding draws from `rng`), and pin
    /// stuck devices.
    @inline(__always)
    func finish(_ u: Float, stuck: UInt8, rng: inout RandomStream) -> Float {
        if stuck == 1 { return 0 }
        if stuck == 2 { return 1 }
        var v = min(max(u, 0), 1)
        if spec.levels >= 2 {
            let q = Float(spec.levels - 1)
            let x = v * q
            switch spec.rounding {
            case .nearest: v = x.rounded() / q
            case .stochastic: let f = x.rounded(.down); v = (f + (Float(rng.uniform()) < x - f ? 1 : 0)) / q
            }
            v = min(max(v, 0), 1)
        }
        return v
    }

    /// Device state for checkpoints: normalized conductances of G⁺ and G⁻ and write-noise draws
    /// (empty for the ideal model).
    public var state: [String: [Float]] {
        if isIdealModel { return [:] }
        var s = ["g_pos": uPos, "g_neg": uNeg]
        if !writeNoisePos.isEmpty { s["wn_pos"] = writeNoisePos; s["wn_neg"] = writeNoiseNeg }
        return s
    }

    /// Restores `state` (device parameters and faults are re-drawn from the seed, so they match).
    public func restore(_ s: [String: [Float]]) throws {
        if isIdealModel { return }
        for (k, v) in s {
            guard v.count == count else { throw InputError("crossbar state '\(k)' has \(v.count) values, expected \(count)") }
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

    /// Normalized conductances (G⁺, G⁻) of device (row, col): for tests and plots.
    public func conductances(row: Int, col: Int) -> (Float, Float) {
        let i = row * inputs + col
        return isIdealModel ? (0.5 + idealWeights.storage[i] / (2 * fullScale), 0.5 - idealWeights.storage[i] / (2 * fullScale)) : (uPos[i], uNeg[i])
    }

    /// Fault map (0 healthy, 1 stuck at G_min, 2 stuck at G_max) of the G⁺ and G⁻ devices.
    public var faults: (positive: [UInt8], negative: [UInt8]) { (stuckPos, stuckNeg) }
}
