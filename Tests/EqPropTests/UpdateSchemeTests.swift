import Foundation
import Testing
@testable import EqProp
@testable import EqPropRuns

/// Update schemes: mixed precision against its closed form, its state in checkpoints, and EP
/// training with it.
@Suite struct UpdateSchemeTests {
    /// A noiseless linear device with a constant step (γ = 0, no spread, no c2c, continuous grid):
    /// n pulses move W by exactly n device steps.
    static func linear(_ scheme: UpdateScheme, threshold: Double = 1, rounding: TransferRounding = .truncate) -> DeviceSpec {
        var d = DeviceSpec(); d.name = "lin"; d.model = .linearStep; d.dwMin = 1.0 / 64
        d.programming = .deterministic; d.rounding = .nearest
        d.scheme = scheme; d.transferThreshold = threshold; d.transferRounding = rounding
        return d
    }

    /// One device step in weight units: 2·w_fs·meanStep.
    static func step(_ a: CrossbarArray, _ d: DeviceSpec) -> Float { 2 * a.fullScale * Float(d.law!.meanStep) }

    /// Updates of 0.26 step each (sums stay ≥ 0.04 step away from the thresholds, so Float rounding
    /// cannot move a transfer): direct programming rounds every one to 0 pulses; mixed precision with
    /// threshold 1 fires one pulse on the 4th (χ = 1.04) and the 8th (χ = 1.08) update and keeps
    /// 0.60 step in χ after 10; with threshold 2 it fires two pulses on the 8th (χ = 2.08); negative
    /// updates mirror it.
    @Test func mixedPrecisionMatchesItsClosedForm() throws {
        let post = Matrix<Float>(rows: 1, cols: 2, storage: [1, 0]), pre = Matrix<Float>(rows: 1, cols: 3, storage: [1, 0, 0])
        func run(_ d: DeviceSpec, sign: Float) -> (w: [Float], chi: Float?, costs: ArrayCosts) {
            let a = CrossbarArray(spec: d, weights: Matrix(rows: 2, cols: 3), seed: 1, layer: 0)
            let unit = Self.step(a, d)
            var w: [Float] = []
            for _ in 0..<10 {
                a.update(post: post, pre: pre, scale: sign * 0.26 * unit)
                w.append(a.weights[0, 0] / unit)
            }
            #expect(a.weights.storage.dropFirst().allSatisfy { $0 == 0 }, "only device (0, 0) moves")
            return (w, a.state["chi"].map { $0[0] / unit }, a.costs)
        }
        func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) < 1e-4 } }
        let direct = run(Self.linear(.direct), sign: 1)
        #expect(direct.w.allSatisfy { $0 == 0 } && direct.chi == nil)
        let mp = run(Self.linear(.mixedPrecision), sign: 1)
        #expect(close(mp.w, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]), "\(mp.w)")
        #expect(abs(mp.chi! - 0.60) < 1e-5)
        let two = run(Self.linear(.mixedPrecision, threshold: 2), sign: 1)
        #expect(close(two.w, [0, 0, 0, 0, 0, 0, 0, 2, 2, 2]), "\(two.w)")
        let down = run(Self.linear(.mixedPrecision), sign: -1)
        #expect(close(down.w, mp.w.map { -$0 }) && abs(down.chi! + 0.60) < 1e-5)
        #expect(abs(two.chi! - 0.60) < 1e-5)
        // Work: two transfers of one pulse to both devices of the pair; 10 updates × 6 synapses of χ adds.
        var expected = ArrayCosts(); expected.pulses = 4; expected.devicesPulsed = 4; expected.accumulatorOps = 60
        #expect(mp.costs == expected && direct.costs == ArrayCosts())
        expected.devicesPulsed = 2   // one transfer of two pulses
        #expect(two.costs == expected)
    }

    /// Stochastic transfer rounding is unbiased: updates of 1.3 steps, one per synapse of a 64 × 64
    /// array, send 1 or 2 pulses with mean 1.3 (3σ of a Bernoulli(0.3) mean over 4096 draws).
    @Test func stochasticTransferIsUnbiased() throws {
        let d = Self.linear(.mixedPrecision, rounding: .stochastic)
        let a = CrossbarArray(spec: d, weights: Matrix(rows: 64, cols: 64), seed: 3, layer: 0)
        let unit = Self.step(a, d)
        a.update(post: Matrix(rows: 1, cols: 64, storage: [Float](repeating: 1, count: 64)),
                 pre: Matrix(rows: 1, cols: 64, storage: [Float](repeating: 1, count: 64)), scale: 1.3 * unit)
        let steps = a.weights.storage.map { ($0 / unit).rounded() }
        #expect(Set(steps).isSubset(of: [1, 2]))
        let mean = steps.reduce(0, +) / Float(steps.count)
        #expect(abs(mean - 1.3) < 3 * (0.3 * 0.7 / 4096).squareRoot(), "mean pulses \(mean)")
        // χ keeps exactly what was not sent.
        let chi = a.state["chi"]!
        #expect(zip(chi, steps).allSatisfy { abs($0 / unit - (1.3 - $1)) < 1e-4 })
    }

    /// Training on crossbars logs the epoch's hardware work (its reads, pulses and devices pulsed);
    /// software weights log none. Reads: with noisy reads, each of the T + K steps of a chunk reads
    /// W01 forward, W12 forward and W12 transposed: 4 batches × 2 chunks × 6 steps × 3 = 144.
    @Test func epochCostsAreLogged() throws {
        let small = DataSet.synthetic(features: 32, train: 40, test: 20)
        let s = NetworkSpec(name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 4, K: 2,
                            beta: 0.5, nudging: .oneSided, learningRates: [0.1, 0.05], batchSize: 10, epochs: 1)
        let base = NSTemporaryDirectory() + "xbar-costs-\(UUID().uuidString)"
        let soft = try TrainingRun.run(spec: s, options: TrainingOptions(seed: 1, dataset: "synthetic"), outDir: base + "s", resume: false, data: small)
        #expect(soft[0].costs == nil)
        let hw = try TrainingRun.run(spec: s, options: TrainingOptions(seed: 1, dataset: "synthetic", device: try DeviceSpec.load("epiram")),
                                     outDir: base + "h", resume: false, data: small)
        let c = try #require(hw[0].costs)
        #expect(c.pulses > 0 && c.devicesPulsed > 0 && c.accumulatorOps == 0 && c.reads == 144)
        #expect(try String(contentsOfFile: base + "h/log.jsonl", encoding: .utf8).contains("\"devices_pulsed\""))
    }

    /// χ is checkpointed: EP training with mixed precision for 2 epochs equals 1 epoch, a
    /// checkpoint and a resumed second epoch, devices and χ included.
    @Test func mixedPrecisionResumesBitIdentically() throws {
        let small = DataSet.synthetic(features: 32, train: 200, test: 60)
        var d = try DeviceSpec.load("epiram")
        d.scheme = .mixedPrecision
        var s = NetworkSpec(name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 8, K: 3,
                            beta: 0.5, nudging: .symmetric, learningRates: [0.1, 0.05], batchSize: 10, epochs: 2)
        let opts = TrainingOptions(seed: 4, dataset: "synthetic", device: d)
        let base = NSTemporaryDirectory() + "xbar-mp-\(UUID().uuidString)"
        let full = try TrainingRun.run(spec: s, options: opts, outDir: base + "a", resume: false, data: small)
        s.epochs = 1
        _ = try TrainingRun.run(spec: s, options: opts, outDir: base + "b", resume: false, data: small)
        s.epochs = 2
        let resumed = try TrainingRun.run(spec: s, options: opts, outDir: base + "b", resume: true, data: small)
        #expect(resumed.last!.testError == full.last!.testError && resumed.last!.trainError == full.last!.trainError)
        let a = try TrainingRun.loadCheckpoint(base + "a/checkpoint.safetensors"), b = try TrainingRun.loadCheckpoint(base + "b/checkpoint.safetensors")
        #expect(a.parameters == b.parameters && a.arrayState == b.arrayState)
        #expect(a.arrayState[0]["chi"]?.contains { $0 != 0 } == true, "χ holds remainders")
        #expect(a.options.device?.scheme == .mixedPrecision)
    }
}
