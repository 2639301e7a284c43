import EqProp
import Foundation
import Yams

/// One line of `results.jsonl`: the run, its full configuration, metrics and timing.
public struct SweepRecord: Codable, Sendable {
    /// The run's key (`SweepPlan.Run.key`).
    public var key: String
    /// The run's position in the plan.
    public var index: Int
    /// The point's assignments, field → value.
    public var point: [String: String]
    /// The run's seed (1…seeds).
    public var seed: Int
    /// The network spec of the run, resolved from the plan's `set` and the point.
    public var model: NetworkSpec
    /// The device spec of the run, resolved likewise (nil for software weights).
    public var device: DeviceSpec?
    /// `train_error`, `test_error` (%) and/or `cosine`, `relmse`, `sign_agreement` (mean over layers,
    /// and per layer as `cosine.W01`, …).
    public var metrics: [String: Double]
    /// Test error after each epoch (%); empty when only fidelity is measured.
    public var testErrorPerEpoch: [Double]
    /// Wall time of the run (s).
    public var seconds: Double
    /// When the run finished (ISO 8601).
    public var finished: String
    enum CodingKeys: String, CodingKey {
        case key, index, point, seed, model, device, metrics, seconds, finished
        case testErrorPerEpoch = "test_error_per_epoch"
    }
}

/// Runs one sweep point: trains (accuracy) and/or probes the update fidelity, in memory.
public enum SweepRunner {
    /// Runs one (point, seed) in memory: trains for the spec's epochs unless the measure is fidelity, then
    /// probes the fidelity on the test set unless it is accuracy.
    public static func run(_ run: SweepPlan.Run, plan: SweepPlan, data: DataSet) throws -> SweepRecord {
        let t0 = Date()
        let (spec, device) = try plan.resolve(run.assignments)
        let seed = UInt64(run.seed)
        let options = TrainingOptions(algorithm: .ep, seed: seed, dataset: plan.dataset, trainSubset: plan.trainSubset,
                                      testSubset: plan.testSubset, device: device)
        var metrics: [String: Double] = [:]
        var perEpoch: [Double] = []
        var params = Parameters<Float>.initial(spec: spec, seed: seed)
        if plan.measure != .fidelity {
            var trainer = try AnyTrainer(spec: spec, parameters: params, options: options, data: data)
            var trainErr = 0.0
            for e in 0..<spec.epochs {
                trainErr = trainer.trainEpoch(e, epochs: spec.epochs)
                perEpoch.append(trainer.evaluate())
            }
            metrics["train_error"] = trainErr
            metrics["test_error"] = perEpoch.last ?? trainer.evaluate()
            params = trainer.parameters
        }
        if plan.measure != .accuracy {
            var test = data.test
            if let n = plan.testSubset { test = test.subset(Array(0..<min(n, test.count))) }
            let f = FidelityRun.run(spec: spec, device: device, parameters: params, data: test, batches: plan.fidelityBatches, seed: seed)
            metrics["cosine"] = f.meanCosine
            metrics["relmse"] = f.layers.map(\.relmse.mean).reduce(0, +) / Double(max(f.layers.count, 1))
            metrics["sign_agreement"] = f.layers.map(\.signAgreement.mean).reduce(0, +) / Double(max(f.layers.count, 1))
            for l in f.layers {
                metrics["cosine.\(l.layer)"] = l.cosine.mean
                metrics["relmse.\(l.layer)"] = l.relmse.mean
                metrics["sign_agreement.\(l.layer)"] = l.signAgreement.mean
            }
        }
        let stamp = ISO8601DateFormatter().string(from: Date())
        return SweepRecord(key: run.key, index: run.index, point: Dictionary(uniqueKeysWithValues: run.assignments.map { ($0.field, $0.value) }),
                           seed: run.seed, model: spec, device: device, metrics: metrics, testErrorPerEpoch: perEpoch,
                           seconds: Date().timeIntervalSince(t0), finished: stamp)
    }
}
