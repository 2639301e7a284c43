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
    /// and per layer as `cosine.W01`, …). A metric a diverged run could not measure is NaN here and
    /// `null` in the file.
    public var metrics: [String: Double]
    /// Test error after each epoch (%); empty when only fidelity is measured.
    public var testErrorPerEpoch: [Double]
    /// Wall time of the run (s).
    public var seconds: Double
    /// When the run finished (ISO 8601).
    public var finished: String
    /// `ok`, or `diverged` when the weights or a metric became non-finite (a result, not a failure:
    /// the sweep goes on and a resume does not redo the run).
    public var status: Status = .ok
    /// Why the run diverged: the first non-finite quantity and where it appeared.
    public var reason: String? = nil

    /// How a run ended.
    public enum Status: String, Codable, Sendable { case ok, diverged }

    enum CodingKeys: String, CodingKey {
        case key, index, point, seed, model, device, metrics, seconds, finished, status, reason
        case testErrorPerEpoch = "test_error_per_epoch"
    }

    /// A record from its fields.
    public init(
        key: String, index: Int, point: [String: String], seed: Int, model: NetworkSpec, device: DeviceSpec?,
        metrics: [String: Double], testErrorPerEpoch: [Double], seconds: Double, finished: String,
        status: Status = .ok, reason: String? = nil
    ) {
        self.key = key; self.index = index; self.point = point; self.seed = seed; self.model = model;
        self.device = device
        self.metrics = metrics; self.testErrorPerEpoch = testErrorPerEpoch; self.seconds = seconds;
        self.finished = finished
        self.status = status; self.reason = reason
    }

    /// Decodes a record; `null` metrics become NaN, and records without a status (older files) are `ok`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.decode(String.self, forKey: .key)
        index = try c.decode(Int.self, forKey: .index)
        point = try c.decode([String: String].self, forKey: .point)
        seed = try c.decode(Int.self, forKey: .seed)
        model = try c.decode(NetworkSpec.self, forKey: .model)
        device = try c.decodeIfPresent(DeviceSpec.self, forKey: .device)
        metrics = try c.decode([String: Double?].self, forKey: .metrics).mapValues { $0 ?? .nan }
        testErrorPerEpoch = try c.decode([Double?].self, forKey: .testErrorPerEpoch).map { $0 ?? .nan }
        seconds = try c.decode(Double.self, forKey: .seconds)
        finished = try c.decode(String.self, forKey: .finished)
        status = try c.decodeIfPresent(Status.self, forKey: .status) ?? .ok
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
    }

    /// Encodes a record; non-finite numbers (which JSON cannot hold) are written as `null`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(index, forKey: .index)
        try c.encode(point, forKey: .point)
        try c.encode(seed, forKey: .seed)
        try c.encode(model, forKey: .model)
        try c.encodeIfPresent(device, forKey: .device)
        try c.encode(metrics.mapValues { $0.isFinite ? $0 : nil }, forKey: .metrics)
        try c.encode(testErrorPerEpoch.map { $0.isFinite ? $0 : nil }, forKey: .testErrorPerEpoch)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(finished, forKey: .finished)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(reason, forKey: .reason)
    }
}

/// Runs one sweep point: trains (accuracy) and/or probes the update fidelity, in memory.
public enum SweepRunner {
    /// Thrown by `run` when told to stop after an epoch (`stopAfter`, for tests of the resume).
    struct Stopped: Error {}

    /// Runs one (point, seed) in memory: trains for the spec's epochs unless the measure is fidelity, then
    /// probes the fidelity on the test set unless it is accuracy. With `inProgress`, the training state
    /// is saved there after every epoch but the last (``RunInProgress``) and a valid state found there
    /// is resumed (an invalid one is removed and the run starts over); the folder is the caller's to
    /// remove once the record is kept.
    public static func run(
        _ run: SweepPlan.Run, plan: SweepPlan, data: DataSet, inProgress: String? = nil
    ) throws -> SweepRecord {
        try self.run(run, plan: plan, data: data, inProgress: inProgress, stopAfter: nil)
    }

    /// `run`, stopping (throwing `Stopped`) after `stopAfter` epochs, as an interruption would.
    static func run(
        _ run: SweepPlan.Run, plan: SweepPlan, data: DataSet, inProgress: String?, stopAfter: Int?
    ) throws -> SweepRecord {
        let t0 = Date()
        var earlierSeconds = 0.0
        let (spec, device) = try plan.resolve(run.assignments)
        let seed = UInt64(run.seed)
        let options = TrainingOptions(
            algorithm: try plan.algorithm(run.assignments), seed: seed, dataset: plan.dataset,
            trainSubset: plan.trainSubset,
            testSubset: plan.testSubset, device: device)
        var metrics: [String: Double] = [:]
        var perEpoch: [Double] = []
        var params = Parameters<Float>.initial(spec: spec, seed: seed)
        var status = SweepRecord.Status.ok, reason: String? = nil
        if plan.measure != .fidelity {
            var trainErr = Double.nan
            var costs: ArrayCosts? = nil
            var start = 0
            var resumed: AnyTrainer? = nil
            if let dir = inProgress {
                if let (p, ck) = RunInProgress.load(dir, key: run.key, spec: spec, options: options),
                    // A device state this program cannot restore (another version's, or damaged): start over.
                    let t = try? AnyTrainer(
                        spec: spec, parameters: ck.parameters, arrayState: ck.arrayState, options: options, data: data)
                {
                    resumed = t
                    start = p.epoch; perEpoch = p.testErrorPerEpoch; trainErr = p.trainError; costs = p.costs
                    earlierSeconds = p.seconds
                } else {
                    try? FileManager.default.removeItem(atPath: dir)
                }
            }
            var trainer = try resumed ?? AnyTrainer(spec: spec, parameters: params, options: options, data: data)
            var saving = inProgress != nil
            defer {
                // Hardware work of the whole training, on crossbars.
                if let c = costs {
                    metrics["pulses"] = c.pulses; metrics["devices_pulsed"] = Double(c.devicesPulsed)
                    metrics["reads"] = Double(c.reads); metrics["accumulator_ops"] = Double(c.accumulatorOps)
                    let samples = Double(max(perEpoch.count, 1) * trainer.trainCount)
                    metrics["energy_per_sample"] = c.energy / samples;
                    metrics["latency_per_sample"] = c.latency / samples
                    metrics["read_energy_per_sample"] = (c.readEnergy + c.converterEnergy) / samples
                    metrics["write_energy_per_sample"] = c.writeEnergy / samples
                }
            }
            for e in start..<spec.epochs {
                trainErr = trainer.trainEpoch(e, epochs: spec.epochs)
                if let c = trainer.lastEpochCosts { costs = (costs ?? ArrayCosts()) + c }
                // Diverged: recorded as a result (the sweep goes on), with the first non-finite weight.
                if let bad = TrainingRun.firstNonFinite(trainer.parameters, spec: spec) {
                    status = .diverged
                    reason = "epoch \(e + 1): the weights became non-finite (first: \(bad))"
                    perEpoch.append(.nan)
                    break
                }
                perEpoch.append(trainer.evaluate())
                if saving, let dir = inProgress, e + 1 < spec.epochs {
                    let state = RunInProgress(
                        key: run.key, epoch: e + 1, testErrorPerEpoch: perEpoch, trainError: trainErr, costs: costs,
                        seconds: earlierSeconds + Date().timeIntervalSince(t0))
                    do {
                        try RunInProgress.save(
                            state, spec: spec, options: options, parameters: trainer.parameters,
                            arrayState: trainer.arrayState, in: dir)
                    } catch {
                        // Saving is insurance: a full disk must not cost the run itself.
                        saving = false
                        FileHandle.standardError.write(
                            Data(
                                ("warning: run '\(run.key)': its state is no longer saved between epochs (\(error)); "
                                    + "it goes on, but an interruption would start it over\n").utf8))
                    }
                }
                if let n = stopAfter, e + 1 == n { throw Stopped() }
            }
            metrics["train_error"] = trainErr
            metrics["test_error"] = perEpoch.last ?? .nan
            params = trainer.parameters
        }
        if plan.measure != .accuracy && status == .ok {
            var test = data.test
            if let n = plan.testSubset { test = test.subset(Array(0..<min(n, test.count))) }
            try device?.checkArrays(params.weights.map { ($0.rows, $0.cols) })
            let f = FidelityRun.run(
                spec: spec, device: device, parameters: params, data: test, batches: plan.fidelityBatches, seed: seed)
            metrics["cosine"] = f.meanCosine
            metrics["relmse"] = f.layers.map(\.relmse.mean).reduce(0, +) / Double(max(f.layers.count, 1))
            metrics["sign_agreement"] = f.layers.map(\.signAgreement.mean).reduce(0, +) / Double(max(f.layers.count, 1))
            for l in f.layers {
                metrics["cosine.\(l.layer)"] = l.cosine.mean
                metrics["relmse.\(l.layer)"] = l.relmse.mean
                metrics["sign_agreement.\(l.layer)"] = l.signAgreement.mean
            }
        } else if plan.measure != .accuracy {
            for m in ["cosine", "relmse", "sign_agreement"] { metrics[m] = .nan }
        }
        if status == .ok, let bad = metrics.keys.sorted().first(where: { !metrics[$0]!.isFinite }) {
            status = .diverged
            reason = "metric '\(bad)' is \(metrics[bad]!)"
        }
        let stamp = ISO8601DateFormatter().string(from: Date())
        return SweepRecord(
            key: run.key, index: run.index,
            point: Dictionary(uniqueKeysWithValues: run.assignments.map { ($0.field, $0.value) }),
            seed: run.seed, model: spec, device: device, metrics: metrics, testErrorPerEpoch: perEpoch,
            seconds: earlierSeconds + Date().timeIntervalSince(t0), finished: stamp, status: status, reason: reason)
    }
}
