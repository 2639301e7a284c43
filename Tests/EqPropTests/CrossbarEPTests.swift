import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// EP on crossbars: fidelity of the realized update against −lr·∇BPTT (P-1h, Fashion-MNIST, seed 1).
/// The numbers in the comments were measured with `xbar fidelity` and the same settings.
@Suite(.serialized) struct CrossbarEPTests {
    static let data: DataSet = try! DataSet.load("fashion-mnist")
    static let spec: NetworkSpec = try! NetworkSpec.load("p-1h")
    static let params = Parameters<Float>.initial(spec: spec, seed: 1)

    /// A near-ideal linear device: steps of 1e-6 of the range, stochastic rounding of pulse counts.
    static var fine: DeviceSpec {
        var d = DeviceSpec()
        d.name = "fine"; d.model = .linearStep; d.dwMin = 1e-6; d.programming = .deterministic; d.rounding = .stochastic
        d.maxPulses = 10_000_000
        return d
    }

    static func fidelity(_ d: DeviceSpec?, batches: Int = 20) -> [Double] {
        FidelityRun.run(spec: spec, device: d, parameters: params, data: data.train, batches: batches, seed: 1).layers
            .map(\.cosine.mean)
    }

    @Test func idealDeviceEqualsSoftwareExactly() {
        let sw = FidelityRun.run(
            spec: Self.spec, device: nil, parameters: Self.params, data: Self.data.train, batches: 5, seed: 1)
        let hw = FidelityRun.run(
            spec: Self.spec, device: DeviceSpec(), parameters: Self.params, data: Self.data.train, batches: 5, seed: 1)
        #expect(sw.perWindow == hw.perWindow)
    }

    @Test func idealDeviceTrainingIsBitIdentical() throws {
        let small = DataSet.synthetic(features: 784, train: 400, test: 100)
        var s = Self.spec; s.epochs = 1
        let a = NSTemporaryDirectory() + "xbar-ideal-\(UUID().uuidString)", b = a + "-device"
        try TrainingRun.run(
            spec: s, options: TrainingOptions(seed: 3, dataset: "synthetic"), outDir: a, resume: false, data: small)
        try TrainingRun.run(
            spec: s, options: TrainingOptions(seed: 3, dataset: "synthetic", device: DeviceSpec()), outDir: b,
            resume: false, data: small)
        #expect(
            try TrainingRun.loadCheckpoint(a + "/checkpoint.safetensors").parameters
                == TrainingRun.loadCheckpoint(b + "/checkpoint.safetensors").parameters)
    }

    /// Measured mean cosine (W01, W12): 256 levels 0.462, 0.614; 64 levels 0.247, 0.195; 16 levels
    /// 0.174, 0.082. One EP update is far below one conductance level (a level is w_fs/(L−1) ≈ 5.6e-4
    /// for W01 at 256 levels; a batch's |ΔW| is ~1e-5–1e-4), so stochastic rounding moves a weight by a
    /// whole level with probability |ΔW|/level: unbiased, but each single update is mostly rounding
    /// noise. Hence the bound at 256 levels is 0.4 for the mean over layers (measured 0.54), not 0.9.
    @Test func quantizationLowersFidelityMonotonically() {
        var cos: [Double] = []
        for levels in [256, 64, 16] {
            var d = Self.fine; d.levels = levels; d.dwMin = 1e-4
            let c = Self.fidelity(d)
            cos.append(c.reduce(0, +) / Double(c.count))
            print("fidelity, \(levels) levels: W01 \(c[0]), W12 \(c[1])")
            if levels == 256 { #expect(cos.last! >= 0.4, "256 levels: \(c)") }
        }
        #expect(cos[0] > cos[1] && cos[1] > cos[2], "cosine for 256, 64, 16 levels: \(cos)")
    }

    /// Measured (W01, W12): σ 0.001 → 0.709, 0.904; 0.01 → 0.113, 0.856; 0.05 → 0.023, 0.659.
    @Test func whiteReadNoiseLowersFidelityMonotonically() {
        var cos: [Double] = []
        for sigma in [0.001, 0.01, 0.05] {
            var d = DeviceSpec(); d.whiteNoise = sigma
            let c = Self.fidelity(d)
            cos.append(c.reduce(0, +) / Double(c.count))
            print("fidelity, white σ \(sigma): W01 \(c[0]), W12 \(c[1])")
        }
        #expect(cos[0] > cos[1] && cos[1] > cos[2], "cosine for σ = 0.001, 0.01, 0.05: \(cos)")
    }

    /// 1/f read noise vs white noise of the same form (multiplicative, output-referred) and the same
    /// total variance (σ_n = 0.2 % of G over the synthesized band, 16384-sample traces): the slow part
    /// is common to the free and the nudged phase and cancels in their difference. Measured over 50
    /// batches (W01, W12): 1/f 0.309, 0.865; white 0.222, 0.848.
    @Test func flickerNoiseBeatsWhiteNoiseAtEqualVariance() {
        let n = 16384, dt = 1e-6, sigma2 = 0.002 * 0.002
        let lo = 1 / (Double(n) * dt) / 2, hi = 1 / (2 * dt)
        var f = Self.fine; f.noiseLength = n; f.tStep = dt
        f.flickerGamma = 1; f.flickerK = sigma2 / log(hi / lo)
        var w = f; w.flickerGamma = 0; w.flickerK = sigma2 / (hi - lo)
        // Both have the same per-sample variance (exact bin integrals).
        let vf = NoiseSynthesizer(spectrum: .flicker(k: f.flickerK, gamma: 1), length: n, dt: dt).variance
        let vw = NoiseSynthesizer(spectrum: .flicker(k: w.flickerK, gamma: 0), length: n, dt: dt).variance
        #expect(abs(vf / vw - 1) < 0.01, "variances \(vf) vs \(vw)")
        let cf = Self.fidelity(f, batches: 50), cw = Self.fidelity(w, batches: 50)
        print("fidelity, 1/f vs white at equal variance: W01 \(cf[0]) vs \(cw[0]), W12 \(cf[1]) vs \(cw[1])")
        #expect(cf[0] - cw[0] >= 0.03, "W01: 1/f \(cf[0]) vs white \(cw[0])")
        #expect(cf[1] > cw[1], "W12: 1/f \(cf[1]) vs white \(cw[1])")
    }

    /// A noisy, quantized crossbar run is reproducible, and resuming it after epoch 1 of 2 gives the
    /// same weights and errors as running it through (device state and streams are checkpointed/reseeded).
    /// Chunks of a batch relax concurrently on crossbars too, but the devices are programmed once per
    /// batch with the whole batch's update: on a device whose reads are exact (no noise, no
    /// converters) and whose pulse counts are rounded to nearest, 1 and 2 chunks give the same
    /// devices. (Programming each chunk's half-update separately rounds each half on its own.)
    @Test func chunksAreProgrammedAsOneBatch() throws {
        let small = DataSet.synthetic(features: 32, train: 200, test: 60)
        var d = DeviceSpec(); d.model = .exponential; d.pulses = 200; d.nlLtp = 1; d.nlLtd = -1
        d.rounding = .nearest; d.maxPulses = 50
        let s = NetworkSpec(
            name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 8, K: 3,
            beta: 0.5, nudging: .symmetric, learningRates: [0.4, 0.2], batchSize: 20, epochs: 2)
        let base = NSTemporaryDirectory() + "xbar-chunks-\(UUID().uuidString)"
        var states: [[String: [Float]]] = []
        for chunks in [1, 2, 2] {
            var o = TrainingOptions(seed: 2, dataset: "synthetic", device: d); o.chunks = chunks
            let dir = base + "-\(states.count)"
            _ = try TrainingRun.run(spec: s, options: o, outDir: dir, resume: false, data: small)
            let st = try TrainingRun.loadCheckpoint(dir + "/checkpoint.safetensors").arrayState
            var flat: [String: [Float]] = [:]
            for (l, layer) in st.enumerated() { for (k, v) in layer { flat["\(l)/\(k)"] = v } }
            states.append(flat)
        }
        let initial = CrossbarArray(
            spec: d, weights: Parameters<Float>.initial(spec: s, seed: 2).weights[0], seed: 2, layer: 0
        ).uPos
        #expect(states[0].values.contains { $0.count == initial.count && $0 != initial }, "the devices were programmed")
        func differing(_ a: [String: [Float]], _ b: [String: [Float]]) -> Int {
            a.keys.reduce(0) { n, k in
                n + zip(a[k]!, b[k] ?? []).filter { $0 != $1 }.count + abs(a[k]!.count - (b[k]?.count ?? 0))
            }
        }
        #expect(states[0].keys.sorted() == states[1].keys.sorted())
        #expect(differing(states[0], states[1]) == 0, "devices that differ between 1 and 2 chunks")
        #expect(differing(states[1], states[2]) == 0, "devices that differ between two runs with 2 chunks")
    }

    @Test func crossbarTrainingIsDeterministicAndResumable() throws {
        let small = DataSet.synthetic(features: 32, train: 200, test: 60)
        var d = try DeviceSpec.load("epiram")
        d.levels = 32
        var s = NetworkSpec(
            name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 8, K: 3,
            beta: 0.5, nudging: .symmetric, learningRates: [0.1, 0.05], batchSize: 10, epochs: 2)
        let opts = TrainingOptions(seed: 4, dataset: "synthetic", device: d, probeEvery: 5)
        let base = NSTemporaryDirectory() + "xbar-xr-\(UUID().uuidString)"
        let full = try TrainingRun.run(spec: s, options: opts, outDir: base + "a", resume: false, data: small)
        let again = try TrainingRun.run(spec: s, options: opts, outDir: base + "b", resume: false, data: small)
        #expect(full.map(\.testError) == again.map(\.testError) && full.map(\.trainError) == again.map(\.trainError))
        #expect(
            try TrainingRun.loadCheckpoint(base + "a/checkpoint.safetensors").parameters
                == TrainingRun.loadCheckpoint(base + "b/checkpoint.safetensors").parameters)
        s.epochs = 1
        _ = try TrainingRun.run(spec: s, options: opts, outDir: base + "c", resume: false, data: small)
        s.epochs = 2
        let resumed = try TrainingRun.run(spec: s, options: opts, outDir: base + "c", resume: true, data: small)
        #expect(resumed.last!.testError == full.last!.testError && resumed.last!.trainError == full.last!.trainError)
        let ca = try TrainingRun.loadCheckpoint(base + "a/checkpoint.safetensors"),
            cc = try TrainingRun.loadCheckpoint(base + "c/checkpoint.safetensors")
        #expect(ca.parameters == cc.parameters && ca.arrayState == cc.arrayState)
        // Probe lines were logged (every 5th batch) next to the epoch lines.
        let probes = JSONLWriter.readLines(base + "a/log.jsonl").filter { $0["kind"] as? String == "probe" }
        #expect(probes.count == 2 * 4)
    }
}
