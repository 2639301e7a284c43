import EqProp
import Foundation

/// The state of a sweep run between two epochs, kept on disk so that an interrupted sweep (a crash,
/// `kill`, a cluster job's time limit) resumes the run where it stopped instead of training it again
/// from the start. A run of the full-budget device study takes up to an hour; without this, every
/// interruption lost the runs in flight.
///
/// A folder per run (`SweepExecutor.inProgressName/<index>/`) holds `checkpoint.safetensors`, written
/// as `xbar train` writes it (weights, device state, spec and options), and `progress-<epoch>.json`
/// (the test errors and costs of the finished epochs, and the wall time so far). Each file is written
/// atomically: first the new epoch's progress, then the checkpoint, then the previous progress is
/// removed, so whenever the process dies, the checkpoint's epoch has its progress file. The resumed run
/// gives the record of an uninterrupted one: training resumes bit-identically from a checkpoint, as
/// `xbar train --resume` does, so errors and counts are equal; energy and latency are float sums
/// taken in another order, equal to rounding (relative 1e-12).
struct RunInProgress: Codable {
    /// The run's key, so a folder is never resumed as another run.
    var key: String
    /// Epochs finished.
    var epoch: Int
    /// Test error after each finished epoch (%).
    var testErrorPerEpoch: [Double]
    /// Running training error of the last finished epoch (%).
    var trainError: Double
    /// Hardware work summed over the finished epochs (nil on software weights).
    var costs: ArrayCosts?
    /// Wall time of the finished epochs, over every attempt (s).
    var seconds: Double

    static func progressName(_ epoch: Int) -> String { "progress-\(epoch).json" }

    /// Saves the state after `epoch` finished epochs (see the type's comment for the order).
    static func save(
        _ p: RunInProgress, spec: NetworkSpec, options: TrainingOptions, parameters: Parameters<Float>,
        arrayState: [[String: [Float]]], in dir: String
    ) throws {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        try AtomicFile.write(
            String(decoding: try enc.encode(p), as: UTF8.self) + "\n",
            to: (dir as NSString).appendingPathComponent(progressName(p.epoch)))
        try TrainingRun.saveCheckpoint(
            .init(spec: spec, options: options, epoch: p.epoch, parameters: parameters, arrayState: arrayState),
            to: (dir as NSString).appendingPathComponent(TrainingRun.checkpointName))
        try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(progressName(p.epoch - 1)))
    }

    /// The saved state of run `key` in `dir`, with its parameters and device state, if `dir` holds a
    /// valid one for this run with exactly this spec and these options; nil otherwise (the run starts
    /// over). Whatever the files hold, this never traps: values out of range make it nil.
    static func load(_ dir: String, key: String, spec: NetworkSpec, options: TrainingOptions) -> (
        RunInProgress, TrainingRun.Checkpoint
    )? {
        let ckPath = (dir as NSString).appendingPathComponent(TrainingRun.checkpointName)
        guard FileManager.default.fileExists(atPath: ckPath), let ck = try? TrainingRun.loadCheckpoint(ckPath),
            (1..<spec.epochs).contains(ck.epoch),
            let data = try? InputFile.read(
                (dir as NSString).appendingPathComponent(progressName(ck.epoch)), what: "run progress",
                maxBytes: 1 << 20),
            let p = try? JSONDecoder().decode(RunInProgress.self, from: data)
        else { return nil }
        guard p.key == key, p.epoch == ck.epoch, p.testErrorPerEpoch.count == p.epoch, p.isValid,
            SweepExecutor.differingField(ck.spec, spec) == nil,
            SweepExecutor.differingField(ck.options, options) == nil
        else { return nil }
        return (p, ck)
    }

    /// Errors are percentages, times and costs finite and ≥ 0, counts small enough to add without
    /// overflow.
    var isValid: Bool {
        let percent = (0.0...100.0)
        guard testErrorPerEpoch.allSatisfy(percent.contains), percent.contains(trainError),
            seconds.isFinite, seconds >= 0
        else { return false }
        guard let c = costs else { return true }
        let counts = [c.devicesPulsed, c.reads, c.accumulatorOps, c.refreshes]
        let amounts = [
            c.pulses, c.dacConversions, c.adcConversions, c.readEnergy, c.converterEnergy, c.writeEnergy,
            c.readLatency, c.writeLatency
        ]
        return counts.allSatisfy { (0..<(1 << 53)).contains($0) } && amounts.allSatisfy { $0.isFinite && $0 >= 0 }
    }
}
