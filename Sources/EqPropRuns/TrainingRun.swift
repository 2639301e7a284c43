import EqProp
import Foundation
import Yams

/// One line of `log.jsonl`.
public struct EpochRecord: Codable, Equatable, Sendable {
    /// Epoch number, counted from 1.
    public var epoch: Int
    /// Running error (%) over the epoch, from free-phase predictions made before each update.
    public var trainError: Double
    /// Error (%) on the test set after the epoch.
    public var testError: Double
    /// Wall time of the epoch (training + evaluation), seconds.
    public var seconds: Double
    /// Training examples per second of the epoch's wall time (training + evaluation).
    public var samplesPerSecond: Double
    /// Hardware work of the epoch's training (reads, pulses, devices pulsed, accumulator
    /// operations); absent on software weights.
    public var costs: ArrayCosts? = nil

    enum CodingKeys: String, CodingKey {
        case epoch, trainError = "train_error", testError = "test_error", seconds, samplesPerSecond = "samples_per_s",
            costs
    }
}

/// A training run on disk: `DIR/model.yaml`, `DIR/log.jsonl` (one `EpochRecord` per line),
/// `DIR/checkpoint.safetensors` (weights `W<from><to>` [out, in], biases `b<l>`, metadata with the
/// epoch, spec and options), and `DIR/curves.svg`. Every file is written atomically; the log line of
/// an epoch is appended before its checkpoint, and a resume drops log lines past the checkpoint, so a
/// crash at any point resumes to exactly the numbers of an uninterrupted run.
public enum TrainingRun {
    /// File name of a run's checkpoint in its folder.
    public static let checkpointName = "checkpoint.safetensors"
    /// The checkpoint's `format` metadata; a checkpoint with another tag is rejected.
    public static let formatTag = "eqprop-crossbar/1"

    /// What a checkpoint holds: spec, options, completed epochs, parameters and device state.
    public struct Checkpoint {
        /// The network spec of the run.
        public var spec: NetworkSpec
        /// The training options of the run.
        public var options: TrainingOptions
        /// Number of completed epochs.
        public var epoch: Int
        /// Weights and biases after `epoch` epochs.
        public var parameters: Parameters<Float>
        /// Per connection, the crossbar device state (empty on ideal weights).
        public var arrayState: [[String: [Float]]] = []

        /// Throws unless the checkpoint holds weights for `model` (same layers, kind and input→output
        /// connection), naming `path` and what differs.
        public func check(fits model: NetworkSpec, path: String) throws {
            guard spec.layers == model.layers, spec.inputToOutput == model.inputToOutput else {
                throw InputError("checkpoint '\(path)' holds layers \(spec.layers) but the model has \(model.layers)")
            }
            guard spec.kind == model.kind else {
                throw InputError(
                    options:
                        "checkpoint '\(path)' holds a \(spec.kind.rawValue) model ('\(spec.name)') but the model is "
                        + "\(model.kind.rawValue); add {model} \(spec.name)"
                )
            }
        }
    }

    /// Writes a checkpoint atomically as safetensors: weights W<from><to> [out, in], biases b<l>, device
    /// state W<from><to>.<key>, and the epoch, spec and options as metadata.
    public static func saveCheckpoint(_ c: Checkpoint, to path: String) throws {
        var tensors: [String: Safetensors.Tensor] = [:]
        for (ci, conn) in c.spec.connections.enumerated() {
            let w = c.parameters.weights[ci]
            tensors[GDU.weightName(conn)] = .init(shape: [w.rows, w.cols], values: w.storage)
        }
        for (l, b) in c.parameters.biases.enumerated() { tensors["b\(l + 1)"] = .init(shape: [b.count], values: b) }
        for (ci, st) in c.arrayState.enumerated() {
            let name = GDU.weightName(c.spec.connections[ci])
            for (k, v) in st { tensors["\(name).\(k)"] = .init(shape: [v.count], values: v) }
        }
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]  // canonical bytes
        let opts = String(decoding: try enc.encode(c.options), as: UTF8.self)
        let meta = ["format": formatTag, "epoch": String(c.epoch), "spec": c.spec.yaml(), "options": opts]
        try AtomicFile.write(Safetensors.encode(tensors, metadata: meta), to: path)
    }

    /// Reads a checkpoint written by `saveCheckpoint`, checking its format tag, metadata and tensor shapes.
    public static func loadCheckpoint(_ path: String) throws -> Checkpoint {
        let data = try InputFile.read(path, what: "checkpoint", maxBytes: Safetensors.maxFileBytes)
        let (tensors, meta) = try Safetensors.decode(data, source: path)
        func bad(_ why: String) -> InputError { InputError("checkpoint '\(path)': \(why)") }
        guard meta["format"] == formatTag else {
            throw bad("metadata 'format' is \(meta["format"] ?? "missing"), expected \(formatTag)")
        }
        guard let e = meta["epoch"].flatMap(Int.init), e >= 0 else {
            throw bad("metadata 'epoch' is missing or not an integer ≥ 0")
        }
        guard let y = meta["spec"] else { throw bad("metadata 'spec' is missing") }
        let spec = try NetworkSpec.decode(yaml: y, source: "\(path) (spec)")
        guard let o = meta["options"], let options = try? JSONDecoder().decode(TrainingOptions.self, from: Data(o.utf8))
        else {
            throw bad("metadata 'options' is missing or malformed")
        }
        var ws: [Matrix<Float>] = []
        for (c, shape) in zip(spec.connections, spec.weightShapes) {
            let name = GDU.weightName(c)
            guard let t = tensors[name] else { throw bad("tensor '\(name)' is missing") }
            guard t.shape == [shape.rows, shape.cols] else {
                throw bad("tensor '\(name)' has shape \(t.shape), expected [\(shape.rows), \(shape.cols)]")
            }
            ws.append(Matrix(rows: t.shape[0], cols: t.shape[1], storage: t.values))
        }
        var bs: [[Float]] = []
        for (i, n) in spec.biasSizes.enumerated() {
            let l = i + 1
            guard let t = tensors["b\(l)"], t.shape == [n] else {
                throw bad("tensor 'b\(l)' is missing or has the wrong shape")
            }
            bs.append(t.values)
        }
        let parameters = Parameters(weights: ws, biases: bs)
        if let where0 = firstNonFinite(parameters, spec: spec) { throw bad("non-finite parameter \(where0)") }
        var state: [[String: [Float]]] = []
        for c in spec.connections {
            let prefix = GDU.weightName(c) + "."
            var st: [String: [Float]] = [:]
            for (k, t) in tensors where k.hasPrefix(prefix) {
                if let i = t.values.firstIndex(where: { !$0.isFinite }) {
                    throw bad("non-finite device state \(k)[\(i)] = \(t.values[i])")
                }
                st[String(k.dropFirst(prefix.count))] = t.values
            }
            state.append(st)
        }
        // Device state without a device (or the reverse is harmless: an ideal run has no state).
        if options.device == nil,
            let k = tensors.keys.sorted().first(where: { name in
                spec.connections.contains { name.hasPrefix(GDU.weightName($0) + ".") }
            })
        {
            throw bad("tensor '\(k)' is crossbar state, but the options name no device")
        }
        // What a checkpoint says is checked as if it were given on the command line.
        do {
            try spec.validate()
            try options.validate()
        } catch let e as InputError { throw bad(e.message) }
        return Checkpoint(spec: spec, options: options, epoch: e, parameters: parameters, arrayState: state)
    }

    /// Trains `spec.epochs` epochs in `outDir`, resuming from its checkpoint if `resume` is set.
    /// `report` receives progress and finished epochs (for terminal display).
    @discardableResult
    public static func run(
        spec specIn: NetworkSpec, options optionsIn: TrainingOptions, outDir: String, resume: Bool,
        data preloaded: DataSet? = nil,
        started: ((NetworkSpec) -> Void)? = nil,
        progress: ((EqProp.Progress) -> Void)? = nil, epochDone: ((EpochRecord) -> Void)? = nil
    ) throws -> [EpochRecord] {
        var spec = specIn, options = optionsIn
        guard !outDir.isEmpty else { throw InputError(options: "{out} must name a folder (got an empty path)") }
        let ckPath = (outDir as NSString).appendingPathComponent(checkpointName)
        let logPath = (outDir as NSString).appendingPathComponent("log.jsonl")
        // Everything is checked (model, checkpoint, options, data, shapes) before anything is written;
        // then the folder is locked (one writer), and a fresh run re-checks it under the lock.
        var params: Parameters<Float>
        var startEpoch = 0
        var keptLog = ""
        var restore: [[String: [Float]]] = []
        var lock: FolderLock? = nil
        defer { lock?.unlock() }
        if resume {
            // The checkpoint is read under the lock, so another writer cannot replace it meanwhile.
            if FileManager.default.fileExists(atPath: ckPath) { lock = try FolderLock(outDir, purpose: "training") }
            let ck = try loadCheckpoint(ckPath)
            let epochs = spec.epochs
            spec = ck.spec
            spec.epochs = max(epochs, ck.epoch)
            options = ck.options
            params = ck.parameters
            startEpoch = ck.epoch
            if options.device != nil { restore = ck.arrayState }
            // Log lines of epochs after the checkpoint are dropped (they will be redone).
            let kept = JSONLWriter.readLines(logPath).filter { ($0["epoch"] as? Int ?? Int.max) <= ck.epoch }
            keptLog = kept.compactMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
                .map { String(decoding: $0, as: UTF8.self) + "\n" }.joined()
        } else {
            try spec.validate()
            try options.validate()
            guard spec.epochs >= 1 else {
                throw InputError(options: "{epochs} must be ≥ 1 to train (got \(spec.epochs))")
            }
            if FileManager.default.fileExists(atPath: ckPath) {
                throw InputError(
                    options: "'\(outDir)' already holds a run; use {resume} \(outDir) to continue it, or another {out}")
            }
            params = Parameters<Float>.initial(spec: spec, seed: options.seed)
        }
        let data = try preloaded ?? DataSet.load(options.dataset)
        var trainer = try AnyTrainer(spec: spec, parameters: params, arrayState: restore, options: options, data: data)
        if lock == nil {
            lock = try FolderLock(outDir, purpose: "training")
            if FileManager.default.fileExists(atPath: ckPath) {
                throw InputError(
                    options: "'\(outDir)' already holds a run; use {resume} \(outDir) to continue it, or another {out}")
            }
        }
        return try loop(
            &trainer, spec: spec, options: options, startEpoch: startEpoch, outDir: outDir, keptLog: keptLog,
            started: started, progress: progress, epochDone: epochDone)
    }

    static func loop(
        _ trainer: inout AnyTrainer, spec: NetworkSpec, options: TrainingOptions, startEpoch: Int, outDir: String,
        keptLog: String,
        started: ((NetworkSpec) -> Void)?, progress: ((EqProp.Progress) -> Void)?, epochDone: ((EpochRecord) -> Void)?
    ) throws -> [EpochRecord] {
        let ckPath = (outDir as NSString).appendingPathComponent(checkpointName)
        let logPath = (outDir as NSString).appendingPathComponent("log.jsonl")
        try AtomicFile.write(keptLog, to: logPath)
        try AtomicFile.write(spec.yaml(), to: (outDir as NSString).appendingPathComponent("model.yaml"))
        if let d = options.device {
            try AtomicFile.write(
                (try? YAMLEncoder().encode(d)) ?? "", to: (outDir as NSString).appendingPathComponent("device.yaml"))
        }
        let log = try JSONLWriter(path: logPath)
        started?(spec)
        var records: [EpochRecord] = []
        for epoch in startEpoch..<spec.epochs {
            let t0 = Date()
            var probes: [ProbeRecord] = []
            let trainErr = trainer.trainEpoch(epoch, epochs: spec.epochs, progress: progress) { probes.append($0) }
            // Diverged training (learning rates or β far too large, or exploding noise) is stopped here,
            // before its non-finite weights overwrite the last good checkpoint.
            let parameters = trainer.parameters
            if let bad = firstNonFinite(parameters, spec: spec) {
                throw InputError(
                    "epoch \(epoch + 1): the weights became non-finite (first: \(bad)); the training diverged"
                        + (epoch > 0 ? ", so '\(ckPath)' keeps epoch \(epoch). " : " (no checkpoint written). ")
                        + "Lower the learning rates \(spec.learningRates) or β = \(spec.beta)"
                )
            }
            let testErr = trainer.evaluate(nil)
            let secs = Date().timeIntervalSince(t0)
            for p in probes { try log.append(p) }
            let rec = EpochRecord(
                epoch: epoch + 1, trainError: trainErr, testError: testErr, seconds: secs,
                samplesPerSecond: Double(trainer.trainCount) / secs, costs: trainer.lastEpochCosts)
            try log.append(rec)
            try saveCheckpoint(
                Checkpoint(
                    spec: spec, options: options, epoch: epoch + 1, parameters: parameters,
                    arrayState: trainer.arrayState), to: ckPath)
            records.append(rec)
            epochDone?(rec)
            try writeCurves(
                logPath: logPath,
                title:
                    "\(spec.name), \(options.algorithm.rawValue.uppercased()) on "
                    + "\(options.dataset)\(options.device.map { ", device " + $0.name } ?? "")",
                to: (outDir as NSString).appendingPathComponent("curves.svg"))
        }
        return records
    }

    /// Where the first NaN or ±∞ among the weights and biases is, as `W12[row, col] = nan`, if any.
    static func firstNonFinite(_ p: Parameters<Float>, spec: NetworkSpec) -> String? {
        for (ci, w) in p.weights.enumerated() {
            if let i = w.storage.firstIndex(where: { !$0.isFinite }) {
                let name = ci < spec.connections.count ? GDU.weightName(spec.connections[ci]) : "W#\(ci)"
                return "\(name)[\(i / max(w.cols, 1)), \(i % max(w.cols, 1))] = \(w.storage[i])"
            }
        }
        for (l, b) in p.biases.enumerated() {
            if let i = b.firstIndex(where: { !$0.isFinite }) { return "b\(l + 1)[\(i)] = \(b[i])" }
        }
        return nil
    }

    /// Train and test error per epoch, from the log.
    public static func writeCurves(logPath: String, title: String, to path: String) throws {
        // Epoch lines only: probe lines (`--probe-every`) carry an epoch and a batch but no errors.
        let lines = JSONLWriter.readLines(logPath).filter { $0["test_error"] != nil }
        let ep = lines.compactMap { ($0["epoch"] as? Int).map(Double.init) }
        let tr = lines.compactMap { $0["train_error"] as? Double }
        let te = lines.compactMap { $0["test_error"] as? Double }
        guard ep.count == tr.count, ep.count == te.count, !ep.isEmpty else { return }
        let panel = SVGChart.Panel(
            title: "error per epoch", xLabel: "epoch", yLabel: "error (%)",
            content: .lines([
                .init(name: "train (running)", x: ep, y: tr, color: SVGChart.palette[0]),
                .init(name: "test", x: ep, y: te, color: SVGChart.palette[1])
            ]))
        try AtomicFile.write(
            SVGChart.render(title: title, panels: [panel], columns: 1, panelWidth: 560, panelHeight: 340), to: path)
    }
}
