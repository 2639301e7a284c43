import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network with EP or BPTT; log per epoch, checkpoint, resume.",
        discussion: """
            Writes DIR/log.jsonl (one line per epoch: epoch, train_error, test_error, seconds, samples_per_s, \
            and on a crossbar the hardware work, costs; plus one line per fidelity probe), \
            DIR/checkpoint.safetensors (after every epoch; readable with Python's safetensors), \
            DIR/model.yaml and DIR/curves.svg. --resume DIR continues an interrupted run exactly.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Learning algorithm: ep | bptt (default: ep).")
    var algorithm: String?
    @Option(
        help: ArgumentHelp(
            "fashion-mnist (Debian package; the default), mnist ($XBAR_MNIST_DIR or ./data/mnist), or a folder with "
                + "the four IDX files."
        ))
    var dataset: String?
    @Option(help: "Seed of every random stream (init, shuffling, β signs; default 1).")
    var seed: UInt64?
    @Option(help: "Output folder.")
    var out: String?
    @Option(
        help: ArgumentHelp(
            "Continue the run in this folder from its checkpoint, with its own model and options (only --epochs may "
                + "be given)."
        ))
    var resume: String?
    @Option(parsing: .unconditional, help: "Train on N examples of a seeded subset of the training set.")
    var trainSubset: Int?
    @Option(parsing: .unconditional, help: "Evaluate on the first N test examples.")
    var testSubset: Int?
    @Option(
        help: ArgumentHelp(
            "Put every weight matrix on a crossbar of this device (preset name or YAML path); any device field can "
                + "be set with --device.FIELD VALUE."
        ))
    var device: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Probe the fidelity of the realized update against −lr·∇BPTT every N batches (logged to log.jsonl; "
                + "default 0 = never)."
        ))
    var probeEvery: Int?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Batches per probe: compare the change accumulated over N consecutive batches with the sum of their "
                + "exact steps (default 1; at most --probe-every)."
        ))
    var probeWindow: Int?
    @Flag(help: "No progress line.")
    var quiet = false

    func run() throws {
        let algorithm = self.algorithm ?? "ep", dataset = self.dataset ?? "fashion-mnist", seed = self.seed ?? 1
        guard let alg = Algorithm(rawValue: algorithm) else {
            throw InputError("--algorithm must be ep or bptt (got '\(algorithm)')")
        }
        let dir: String
        let spec: NetworkSpec
        if let r = resume {
            if let o = out, o != r { throw InputError("--resume \(r) writes into its own folder; drop --out \(o)") }
            // A resumed run continues with its own model and options; only --epochs may extend it.
            let options: [(String, Bool)] = [
                ("--algorithm", self.algorithm != nil), ("--dataset", self.dataset != nil),
                ("--seed", self.seed != nil),
                ("--device", device != nil), ("--device.FIELD", !DeviceOverrides.pairs.isEmpty),
                ("--train-subset", trainSubset != nil),
                ("--test-subset", testSubset != nil), ("--probe-every", self.probeEvery != nil),
                ("--probe-window", probeWindow != nil)
            ]
            let given: [String] = modelOptions.givenExceptEpochs + options.filter { $0.1 }.map { $0.0 }
            if let g = given.first {
                throw InputError(
                    "--resume \(r) continues with the run's own model and options; drop \(g) (only --epochs may be "
                        + "given)"
                )
            }
            dir = r
            // The checkpoint carries the model; only --epochs may extend it.
            let ck = try TrainingRun.loadCheckpoint((r as NSString).appendingPathComponent(TrainingRun.checkpointName))
            var s = ck.spec
            if let e = modelOptions.epochs { s.epochs = e }
            spec = s
        } else {
            spec = try modelOptions.resolve()
            dir = out ?? "runs/\(spec.name)-\(alg.rawValue)-seed\(seed)"
        }
        let probeEvery = self.probeEvery ?? 0
        guard probeEvery >= 0 else { throw InputError("--probe-every must be ≥ 0 (got \(probeEvery))") }
        let window = probeWindow ?? 1
        guard window >= 1 && window <= max(probeEvery, 1) else {
            throw InputError(
                "--probe-window must be in 1…\(max(probeEvery, 1)) (at most --probe-every, so windows do not "
                    + "overlap; got \(window))"
            )
        }
        var dev: DeviceSpec? = nil
        if let d = device { dev = try DeviceOverrides.resolve(d) } else { try DeviceOverrides.rejectUnused() }
        let options = TrainingOptions(
            algorithm: alg, seed: seed, dataset: dataset, trainSubset: trainSubset, testSubset: testSubset,
            device: dev, probeEvery: probeEvery, probeWindow: window)
        let t0 = Date()
        let records = try TrainingRun.run(
            spec: spec, options: options, outDir: dir, resume: resume != nil,
            started: quiet
                ? nil
                : { spec in
                    FileHandle.standardError.write(
                        Data(
                            ("xbar train: \(spec.name) (\(spec.layers.map(String.init).joined(separator: "-")), "
                                + "T=\(spec.T), K=\(spec.K), β=\(spec.beta)) with \(alg.rawValue.uppercased()) on "
                                + "\(dataset)\(dev.map { ", device " + $0.name } ?? "") → \(dir)\n")
                                .utf8))
                },
            progress: quiet
                ? nil
                : { p in
                    let eta =
                        p.samplesPerSecond > 0
                        ? Double(p.batches - p.batch) * Double(spec.batchSize) / p.samplesPerSecond : 0
                    Status.progress(
                        String(
                            format: "epoch %d/%d  batch %d/%d  train err %.2f%%  %.0f samples/s  ETA %@",
                            p.epoch, p.epochs, p.batch, p.batches, p.trainError, p.samplesPerSecond, Status.clock(eta)),
                        step: p.epoch * 10 + p.batch * 10 / max(p.batches, 1))
                },
            epochDone: quiet
                ? nil
                : { r in
                    Status.line(
                        String(
                            format: "epoch %d: train error %.2f%%, test error %.2f%%, %.1f s", r.epoch, r.trainError,
                            r.testError, r.seconds), final: true)
                })
        if resume != nil && records.isEmpty {
            // Nothing to do is said, not silent: the run already has the epochs asked for.
            FileHandle.standardError.write(
                Data(
                    ("xbar train: \(dir) already has the \(spec.epochs) epochs asked for (or more); give a larger "
                        + "--epochs to continue\n")
                        .utf8))
            return
        }
        if !quiet {
            FileHandle.standardError.write(
                Data(
                    ("done in \(Status.clock(Date().timeIntervalSince(t0))); log \(dir)/log.jsonl, checkpoint "
                        + "\(dir)/\(TrainingRun.checkpointName), plot \(dir)/curves.svg\n")
                        .utf8))
        }
    }
}
