import EqProp
import Foundation

/// The state of a sweep run between two epochs, kept on disk so that an interrupted sweep (a crash,
/// `kill`, a cluster job's time limit) resumes the run where it stopped instead of training it again
/// from the start. A run of the full-budget device study takes up to an hour; without this, every
/// interruption lost the runs in flight.
///
/// A folder per run (`SweepExecutor.inProgressName/<index>/`) holds `checkpoint.safetensors`, written
/// as `xbar train` writes it (weights, device state, spec and options), and `progress.json` (the
/// test errors and costs of the finished epochs, and the wall time so far). Both are written
/// atomically, the checkpoint last; a pair that does not match (a crash between the two writes) is
/// not resumed. The resumed run gives the record of an uninterrupted one: training resumes
/// bit-identically from a checkpoint, as `xbar train --resume` does, so errors and counts are equal;
/// energy and latency are float sums taken in another order, equal to rounding (relative 1e-12).
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

    static let progressName = "progress.json"

    /// Saves the state after `epoch` finished epochs: `progress.json`, then the checkpoint (which
    /// says how many epochs the pair holds).
    static func save(
        _ p: RunInProgress, spec: NetworkSpec, options: TrainingOptions, parameters: Parameters<Float>,
        arrayState: [[String: [Float]]], in dir: String
    ) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        try AtomicFile.write(
            String(decoding: try enc.encode(p), as: UTF8.self) + "\n",
            to: (dir as NSString).appendingPathComponent(progressName))
        try TrainingRun.saveCheckpoint(
            .init(spec: spec, options: options, epoch: p.epoch, parameters: parameters, arrayState: arrayState),
            to: (dir as NSString).appendingPathComponent(TrainingRun.checkpointName))
    }

    /// The saved state of run `key` in `dir`, with its parameters and device state, if `dir` holds
    /// one for this run with exactly this spec and these options; nil otherwise (the run starts over).
    static func load(_ dir: String, key: String, spec: NetworkSpec, options: TrainingOptions) -> (
        RunInProgress, TrainingRun.Checkpoint
    )? {
        let ckPath = (dir as NSString).appendingPathComponent(TrainingRun.checkpointName)
        let progressPath = (dir as NSString).appendingPathComponent(progressName)
        guard FileManager.default.fileExists(atPath: ckPath),
            let data = try? InputFile.read(progressPath, what: "run progress", maxBytes: 1 << 20),
            let p = try? JSONDecoder().decode(RunInProgress.self, from: data),
            let ck = try? TrainingRun.loadCheckpoint(ckPath)
        else { return nil }
        guard p.key == key, ck.epoch == p.epoch, p.testErrorPerEpoch.count == p.epoch, p.epoch < spec.epochs,
            SweepExecutor.differingField(ck.spec, spec) == nil,
            SweepExecutor.differingField(ck.options, options) == nil
        else { return nil }
        return (p, ck)
    }
}
