import Foundation

/// What one read lane owns: its white-noise stream (`…/read`, lane k > 0: `…/read/lane<k>`), the last
/// forward [0] and transposed [1] read (input, clean product, noise weights), its scratch, and its
/// clock: trace block number, sample within the block and simulated time.
final class ReadLane {
    final class Cache {
        let input: Matrix<Float>, driven: Matrix<Float>, clean: Matrix<Float>
        /// Σ_k H·x² of the conductance-noise stage, computed at its first use.
        var s2: Matrix<Float>?
        init(input: Matrix<Float>, driven: Matrix<Float>, clean: Matrix<Float>) { self.input = input; self.driven = driven; self.clean = clean }
    }
    var rng: RandomStream
    var cache: [Cache?] = [nil, nil]
    var white: [Float] = []
    var block = 0, timeIndex = 0
    var time: Double = 0
    /// The traces of the current block, forward [0] and transposed [1], fetched at first use.
    var traces: [TraceSource.Block?] = [nil, nil]
    init(rng: RandomStream) { self.rng = rng }
}

/// The read periphery of one array: its ordered stages, its read lanes and their simulated clocks.
///
/// A read is `y = sense(W·drive(x))` through the stages. When every stage is absent the read is an
/// exact product (BLAS, as `DenseArray`). Otherwise the clean product (and what stages derive from the
/// input) is cached per lane: when the same input is read again before the next update (the data x, at
/// every step of both phases), only the time-varying noise is drawn anew.
///
/// Simulated time: a dynamics step lasts `t_step`, the gap between the free and the nudged phase
/// `phase_gap`; time-correlated noise is read at the lane's time.
final class ReadPath {
    let stages: [any ReadStage]
    let traces: TraceSource?
    let tStep: Double, phaseGap: Double
    let seed: UInt64
    var lanes: [ReadLane]
    /// Stream prefix of the lanes: `xbar/<layer>`, then `xbar/<layer>/epoch<e>` once epochs run.
    var tag: String

    /// The periphery a device preset describes: DAC → conductance noise (flicker, telegraph; only when
    /// the weights are stored as conductances) → white noise → ADC.
    init(spec: DeviceSpec, conductances: Bool, seed: UInt64, layer: Int, outputs: Int, inputs: Int) {
        self.seed = seed
        tag = "xbar/\(layer)"
        tStep = spec.tStep; phaseGap = spec.phaseGap
        lanes = [ReadLane(rng: RandomStream(seed: seed, stream: tag + "/read"))]
        var synths: [NoiseSynthesizer] = []
        if spec.flickerK > 0 {
            synths.append(NoiseSynthesizer(spectrum: .flicker(k: spec.flickerK, gamma: spec.flickerGamma), length: spec.noiseLength, dt: spec.tStep))
        }
        if spec.rtnAmplitude > 0 {
            synths.append(NoiseSynthesizer(spectrum: .lorentzian(amplitude: spec.rtnAmplitude, tau0: spec.rtnTau0, tau1: spec.rtnTau1), length: spec.noiseLength, dt: spec.tStep))
        }
        var stages: [any ReadStage] = []
        if spec.dacBits > 0 { stages.append(Converter(.input, bits: spec.dacBits, bound: spec.dacBound)) }
        if conductances && !synths.isEmpty {
            let source = TraceSource(synthesizers: synths, seed: seed, tag: tag, outputs: outputs, inputs: inputs)
            traces = source
            stages.append(ConductanceNoise(synthesizers: synths, traces: source))
        } else {
            traces = nil
        }
        if spec.whiteNoise > 0 { stages.append(WhiteReadNoise(sigma: spec.whiteNoise)) }
        if spec.adcBits > 0 { stages.append(Converter(.output, bits: spec.adcBits, bound: spec.adcBound)) }
        self.stages = stages
    }

    /// Reads are exact and deterministic: no stage.
    var isExact: Bool { stages.isEmpty }

    /// `out ← read(input) (+ out if accumulate)` of `weights` (forward: input·Wᵀ; transposed: input·W).
    func read(_ input: Matrix<Float>, transposed: Bool, weights w: Matrix<Float>, storage: ConductanceStorage?,
              into out: inout Matrix<Float>, accumulate: Bool, lane k: Int) {
        if isExact {
            if transposed { gemm(input, w, into: &out, beta: accumulate ? 1 : 0) }
            else { gemm(input, w, transposeB: true, into: &out, beta: accumulate ? 1 : 0) }
            return
        }
        let lane = lanes[k], slot = transposed ? 1 : 0
        let cache: ReadLane.Cache
        if let c = lane.cache[slot], c.input == input {
            cache = c
        } else {
            var x = input
            for s in stages { s.drive(&x) }
            var y = Matrix<Float>(rows: out.rows, cols: out.cols)
            if transposed { gemm(x, w, into: &y) } else { gemm(x, w, transposeB: true, into: &y) }
            cache = ReadLane.Cache(input: input, driven: x, clean: y)
            lane.cache[slot] = cache
        }
        var y = cache.clean
        let context = ReadContext(direction: slot, driven: cache.driven, lane: lane, storage: storage)
        for s in stages { s.sense(&y, context) }
        if accumulate { Elementwise.axpy(1, y, &out) } else { out = y }
    }

    /// Simulated time passes for lane k: one dynamics step, or the phase gap.
    func tick(_ event: ClockEvent, lane k: Int) {
        if isExact { return }   // nothing depends on time (and exact arrays may be read concurrently)
        let lane = lanes[k]
        let steps: Int
        switch event {
        case .step: steps = 1; lane.time += tStep
        case .phaseGap: steps = Int((phaseGap / tStep).rounded()); lane.time += phaseGap
        }
        guard let traces else { return }
        lane.timeIndex += steps
        if lane.timeIndex >= traces.usable {
            lane.timeIndex = 0; lane.block += 1
            lane.traces = [nil, nil]
        }
    }

    /// At least `count` lanes, every one at lane 0's time.
    func prepareLanes(_ count: Int) {
        while lanes.count < count {
            lanes.append(ReadLane(rng: RandomStream(seed: seed, stream: tag + "/read/lane\(lanes.count)")))
        }
        let first = lanes[0]
        for lane in lanes.dropFirst() {
            lane.block = first.block; lane.timeIndex = first.timeIndex; lane.time = first.time; lane.traces = first.traces
        }
    }

    /// New streams for an epoch (`tag` = `xbar/<layer>/epoch<e>`); clocks restart at 0.
    func reset(tag: String) {
        self.tag = tag
        lanes = [ReadLane(rng: RandomStream(seed: seed, stream: tag + "/read"))]
        traces?.reset(tag: tag)
    }

    /// The held weights changed: clean products are stale.
    func clearCaches() { for lane in lanes { lane.cache = [nil, nil] } }
}
