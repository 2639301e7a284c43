import Foundation

/// What one read lane owns: its white-noise stream (`…/read`, lane k > 0: `…/read/lane<k>`), the last
/// forward [0] and transposed [1] read (input, clean product, noise weights), its scratch, and the
/// noise-trace blocks it reads now.
final class ReadLane {
    final class Cache {
        let input: Matrix<Float>, driven: Matrix<Float>, clean: Matrix<Float>
        /// √(Σ_k H·x²) of the conductance-noise stage, computed at its first use.
        var noiseRoot: Matrix<Float>?
        /// The cells' read energy of this input (J), computed at its first use.
        var cellEnergy: Double?
        init(input: Matrix<Float>, driven: Matrix<Float>, clean: Matrix<Float>) {
            self.input = input; self.driven = driven; self.clean = clean
        }
    }
    var rng: RandomStream
    var cache: [Cache?] = [nil, nil]
    var white: [Float] = []
    /// Scratch for a sensed output that is added to the caller's (`accumulate`).
    var sensed = Matrix<Float>(rows: 0, cols: 0)
    /// The traces of block `traceBlock[d]` of direction d (forward 0, transposed 1), fetched at first use.
    var traces: [TraceSource.Block?] = [nil, nil]
    var traceBlock = [-1, -1]
    init(rng: RandomStream) { self.rng = rng }
}

/// The read periphery of one array: its ordered stages and its read lanes.
///
/// A read is `y = sense(W·drive(x))` through the stages. When every stage is absent the read is an
/// exact product (BLAS, as `DenseArray`). Otherwise the clean product (and what stages derive from the
/// input) is cached per lane: when the same input is read again before the next update (the data x, at
/// every step of both phases), only the time-varying noise is drawn anew.
///
/// Simulated time is the caller's `ReadClock`: a dynamics step lasts `t_step`, the gap between the
/// free and the nudged phase `phase_gap` (⌊phase_gap/t_step⌉ trace samples); time-correlated noise is
/// read at the clock's sample. The lanes and their streams are re-derived when a clock of a new epoch
/// first reads.
final class ReadPath {
    let stages: [any ReadStage]
    let traces: TraceSource?
    let tStep: Double, phaseGap: Double
    /// Trace samples per phase gap.
    let gapSamples: Int
    let seed: UInt64
    let layer: Int
    /// Lanes by number, and the epoch their streams belong to (nil: before any epoch).
    private var lanes: [Int: ReadLane] = [:]
    private var epoch: Int?
    /// Stream prefix of the lanes: `xbar/<layer>`, then `xbar/<layer>/epoch<e>` once epochs run, each
    /// followed by `suffix` (`/backward` for a separate backward periphery).
    private var tag: String
    private let suffix: String

    /// The periphery `spec` describes: DAC → IR drop and conductance noise (flicker, telegraph; both
    /// only when the weights are stored as conductances, whose range (S) `conductances` gives) →
    /// white noise → ADC.
    init(
        _ spec: IOParameters, conductances range: (gMin: Double, gMax: Double)?, seed: UInt64, layer: Int, outputs: Int,
        inputs: Int,
        streamSuffix: String = ""
    ) {
        let conductances = range != nil
        self.seed = seed; self.layer = layer
        suffix = streamSuffix
        tag = "xbar/\(layer)" + streamSuffix
        tStep = spec.tStep; phaseGap = spec.phaseGap
        gapSamples = Int((spec.phaseGap / spec.tStep).rounded())
        var synths: [NoiseSynthesizer] = []
        if spec.flickerK > 0 {
            synths.append(
                NoiseSynthesizer(
                    spectrum: .flicker(k: spec.flickerK, gamma: spec.flickerGamma), length: spec.noiseLength,
                    dt: spec.tStep))
        }
        if spec.rtnAmplitude > 0 {
            synths.append(
                NoiseSynthesizer(
                    spectrum: .lorentzian(amplitude: spec.rtnAmplitude, tau0: spec.rtnTau0, tau1: spec.rtnTau1),
                    length: spec.noiseLength, dt: spec.tStep))
        }
        var stages: [any ReadStage] = []
        if spec.dacBits > 0 { stages.append(Converter(.input, bits: spec.dacBits, bound: spec.dacBound)) }
        if let range, spec.wireResistance > 0 {
            stages.append(
                IRDrop(wire: spec.wireResistance, exact: spec.irDropModel == .exact, gMin: range.gMin, gMax: range.gMax)
            )
        }
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

    /// Digital gain applied to every output after the periphery (drift compensation; 1 otherwise).
    var outputGain: Float = 1

    /// Reads are exact and deterministic: no stage.
    var isExact: Bool { stages.isEmpty }

    /// The lane a clock reads through, re-deriving every lane's streams when the clock's epoch is new.
    /// Not thread-safe: the array calls it under its lock.
    func lane(for clock: ReadClock) -> ReadLane {
        if let e = clock.epoch, e != epoch {
            epoch = e; tag = "xbar/\(layer)/epoch\(e)" + suffix
            lanes = [:]
            traces?.reset(tag: tag)
        }
        if let l = lanes[clock.lane] { return l }
        let l = ReadLane(
            rng: RandomStream(seed: seed, stream: tag + (clock.lane == 0 ? "/read" : "/read/lane\(clock.lane)")))
        lanes[clock.lane] = l
        return l
    }

    /// `out ← read(input) (+ out if accumulate)` of `weights` (forward: input·Wᵀ; transposed: input·W)
    /// through `lane` at the time of `clock`. Returns the cells' read energy, `cellEnergy(input)`, kept
    /// with the input's clean product so that a repeated input is not summed again (nil if not given).
    @discardableResult
    func read(
        _ input: Matrix<Float>, transposed: Bool, weights w: Matrix<Float>, storage: ConductanceStorage?,
        into out: inout Matrix<Float>, accumulate: Bool, lane: ReadLane?, clock: ReadClock,
        cellEnergy: ((Matrix<Float>) -> Double)? = nil
    ) -> Double? {
        guard let lane, !isExact else {
            if transposed {
                gemm(input, w, into: &out, alpha: outputGain, beta: accumulate ? 1 : 0)
            } else {
                gemm(input, w, transposeB: true, into: &out, alpha: outputGain, beta: accumulate ? 1 : 0)
            }
            return cellEnergy?(input)
        }
        let slot = transposed ? 1 : 0
        let cache: ReadLane.Cache
        if let c = lane.cache[slot], c.input == input {
            cache = c
        } else {
            var x = input
            for s in stages { s.drive(&x) }
            var y = Matrix<Float>(rows: out.rows, cols: out.cols)
            if transposed { gemm(x, w, into: &y) } else { gemm(x, w, transposeB: true, into: &y) }
            for s in stages { s.correct(&y, driven: x, storage: storage, direction: slot) }
            cache = ReadLane.Cache(input: input, driven: x, clean: y)
            lane.cache[slot] = cache
        }
        let sample = clock.steps + clock.gaps * gapSamples, usable = traces?.usable ?? 1
        let context = ReadContext(
            direction: slot, driven: cache.driven, lane: lane, storage: storage,
            block: sample / usable, sample: sample % usable)
        let gain = outputGain
        func sense(_ y: inout Matrix<Float>) {
            for s in stages { s.sense(&y, context) }
            if gain != 1 { y.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= gain } } }
        }
        // The sensed output is built in place, from a copy of the clean product: in `out` itself for a
        // plain read, in the lane's scratch (kept between reads) when it is added to `out`.
        if accumulate {
            ReadPath.copy(cache.clean, into: &lane.sensed)
            sense(&lane.sensed)
            Elementwise.axpy(1, lane.sensed, &out)
        } else {
            ReadPath.copy(cache.clean, into: &out)
            sense(&out)
        }
        guard let cellEnergy else { return nil }
        if let e = cache.cellEnergy { return e }
        let e = cellEnergy(input)
        cache.cellEnergy = e
        return e
    }

    /// `to ← from`, into `to`'s own storage when it has the shape (no allocation).
    static func copy(_ from: Matrix<Float>, into to: inout Matrix<Float>) {
        guard to.rows == from.rows && to.cols == from.cols else { to = from; return }
        from.storage.withUnsafeBufferPointer { s in
            to.storage.withUnsafeMutableBufferPointer { d in _ = d.update(fromContentsOf: s) }
        }
    }

    /// The held weights changed: clean products are stale. Not thread-safe (called under the lock).
    func clearCaches() {
        for lane in lanes.values { lane.cache = [nil, nil] }
        for s in stages { s.weightsChanged() }
    }
}
