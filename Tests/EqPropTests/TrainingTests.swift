import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

@Suite struct TrainingTests {
    static func tempDir() -> String {
        NSTemporaryDirectory() + "xbar-train-\(UUID().uuidString)"
    }

    /// P-1h with EP, 10k Fashion-MNIST examples, one epoch. Measured test error with seeds 1, 2, 3:
    /// 22.25 %, 23.46 %, 24.20 % (chance: 90 %); bound 30 %.
    @Test(.tags(.slow), .skippedWhenFast) func p1hLearnsFashionMNIST() throws {
        var spec = try NetworkSpec.load("p-1h")
        spec.epochs = 1
        let recs = try TrainingRun.run(
            spec: spec, options: TrainingOptions(algorithm: .ep, seed: 1, trainSubset: 10_000),
            outDir: Self.tempDir(), resume: false)
        #expect(recs.count == 1)
        #expect(recs[0].testError < 30, "test error \(recs[0].testError)%")
    }

    /// Resume after epoch 1 of 2 gives exactly the parameters and log of an uninterrupted run.
    @Test(arguments: [Algorithm.ep, .bptt])
    func resumeIsBitIdentical(algorithm: Algorithm) throws {
        let data = DataSet.synthetic(features: 32, train: 400, test: 100)
        var spec = NetworkSpec(
            name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 10, K: 4,
            beta: 0.2, nudging: .randomSign, learningRates: [0.1, 0.05], batchSize: 20, epochs: 2)
        let opts = TrainingOptions(algorithm: algorithm, seed: 11, dataset: "synthetic")
        let a = Self.tempDir(), b = Self.tempDir()
        let full = try TrainingRun.run(spec: spec, options: opts, outDir: a, resume: false, data: data)
        spec.epochs = 1
        _ = try TrainingRun.run(spec: spec, options: opts, outDir: b, resume: false, data: data)
        spec.epochs = 2
        let resumed = try TrainingRun.run(spec: spec, options: opts, outDir: b, resume: true, data: data)
        let ca = try TrainingRun.loadCheckpoint(a + "/checkpoint.safetensors")
        let cb = try TrainingRun.loadCheckpoint(b + "/checkpoint.safetensors")
        #expect(ca.epoch == 2 && cb.epoch == 2)
        #expect(ca.parameters == cb.parameters)
        #expect(full.last!.testError == resumed.last!.testError && full.last!.trainError == resumed.last!.trainError)
        #expect(JSONLWriter.readLines(b + "/log.jsonl").count == 2)
    }

    @Test func checkpointRoundTripAndCorruption() throws {
        let spec = try NetworkSpec.load("p-1h")
        let p = Parameters<Float>.initial(spec: spec, seed: 3)
        let path = Self.tempDir() + "/c.safetensors"
        try TrainingRun.saveCheckpoint(.init(spec: spec, options: TrainingOptions(), epoch: 4, parameters: p), to: path)
        let back = try TrainingRun.loadCheckpoint(path)
        #expect(back.parameters == p && back.epoch == 4 && back.spec == spec)
        // Truncated file → clear error.
        let data = FileManager.default.contents(atPath: path)!
        _ = FileManager.default.createFile(atPath: path, contents: data.prefix(data.count / 2))
        #expect(throws: InputError.self) { try TrainingRun.loadCheckpoint(path) }
    }

    @Test func sameSeedSameNumbers() throws {
        let data = DataSet.synthetic(features: 16, train: 200, test: 50)
        let spec = NetworkSpec(
            name: "tiny", kind: .energyBased, layers: [16, 12, 10], activation: .sigm, dt: 0.2, clamp: true,
            T: 20, K: 5, beta: 0.5, learningRates: [0.1, 0.05], batchSize: 10)
        func train() throws -> Parameters<Float> {
            var t = try Trainer(
                idealNet: IdealNetwork<Float>(spec: spec, parameters: .initial(spec: spec, seed: 5)),
                options: TrainingOptions(seed: 5, dataset: "synthetic"), data: data)
            _ = t.trainEpoch(0)
            return t.net.parameters
        }
        #expect(try train() == train())
    }

    /// `xbar bench`'s breakdown: every trained sample is counted once, and the phase and update
    /// times are positive and add up to no more than the epoch's wall time.
    @Test func timingCountsEverySampleOnce() throws {
        let data = DataSet.synthetic(features: 16, train: 200, test: 50)
        let spec = NetworkSpec(
            name: "tiny", kind: .prototypical, layers: [16, 12, 10], activation: .sigm, T: 10, K: 4,
            beta: 0.2, learningRates: [0.1, 0.05], batchSize: 30)
        var t = try Trainer(
            idealNet: IdealNetwork<Float>(spec: spec, parameters: .initial(spec: spec, seed: 5)),
            options: TrainingOptions(seed: 5, dataset: "synthetic"), data: data)
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = t.trainEpoch(0)
        _ = t.trainEpoch(1)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        #expect(t.timing.samples == 400)  // 2 epochs of 200, the last batch of each short (20)
        #expect(t.timing.phasesSeconds > 0 && t.timing.updateSeconds > 0)
        #expect(t.timing.phasesSeconds + t.timing.updateSeconds <= wall)
    }
}
