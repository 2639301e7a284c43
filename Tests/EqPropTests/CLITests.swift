import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// Bad input to the `xbar` executable: one clear error line and a non-zero exit, never a crash.
@Suite struct CLITests {
    /// The xbar binary built next to this test bundle (or $XBAR_BIN).
    static var binary: String? {
        if let b = ProcessInfo.processInfo.environment["XBAR_BIN"] { return b }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for cand in [dir, dir.deletingLastPathComponent()] {
            let p = cand.appendingPathComponent("xbar").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Runs xbar; `environment` replaces those variables of the test's own environment (nil removes one).
    static func run(_ args: [String], environment: [String: String?] = [:]) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(binary, "xbar binary not found next to the tests"))
        p.arguments = args
        if !environment.isEmpty {
            var e = ProcessInfo.processInfo.environment
            for (k, v) in environment { e[k] = v }
            p.environment = e
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static let badInputs: [([String], String)] = [
        (["train", "--model", "no-such-model"], "unknown model preset 'no-such-model'"),
        (["train", "--T", "-5"], "field 'T' must be an integer in 1…100000"),
        (["train", "--K=-2"], "field 'K' must be an integer in 1…100000"),
        (["train", "--beta=-0.1"], "field 'beta' must be a number in [1e-20, 1e6]"),
        (["train", "--layers", "100,50,10", "--epochs", "1"], "expects 100 inputs but data set"),
        (["train", "--layers", "784,50,7", "--epochs", "1"], "has 7 outputs but data set"),
        (["train", "--dataset", "/no/such/folder", "--epochs", "1"], "folder '/no/such/folder' not found"),
        (["train", "--dataset", "mnist", "--epochs", "1"], "dataset 'mnist'"),
        (["train", "--algorithm", "sgd"], "--algorithm must be ep or bptt"),
        (["train", "--lr", "0.1,abc"], "'abc' is not a valid number"),
        (["train", "--resume", "/no/such/run"], "does not exist"),
        (["gdu", "--precision", "half"], "--precision must be double or float"),
        (["train", "--T", "ten"], "error:"),
        (["devices", "show", "no-such-device"], "unknown device preset 'no-such-device'"),
        (["train", "--neuron-noise", "-1"], "field 'neuron_noise' must be ≥ 0"),
        (["train", "--device", "epiram", "--device.levels", "1"], "field 'levels'"),
        (["train", "--device", "epiram", "--device.nonsense", "3"], "unknown device field 'nonsense'"),
        (["train", "--device.levels", "8"], "--device.levels needs --device NAME"),
        (
            ["train", "--model", "p-conv", "--device", "ideal", "--algorithm", "bptt", "--epochs", "1"],
            "--algorithm bptt on crossbars needs a fully connected model"
        ),
        (["noise", "--device", "ideal"], "has no time-correlated read noise"),
        (
            ["train", "--device", "ideal", "--device.scheme", "tiki-taka"],
            "field 'scheme' must be direct for the ideal device"
        ),
        (["train", "--device", "epiram", "--device.gamma", "0"], "field 'gamma' must be in [1e-4, 1]"),
        (["train", "--device", "epiram", "--device.chi_bits", "40"], "field 'chi_bits' must be 0 (Float) or in 2…24"),
        (["train", "--probe-every", "2", "--probe-window", "3"], "--probe-window must be in 1…2"),
        (["fidelity", "--window", "0"], "--window must be batch counts in 1…20"),
        (["fidelity", "--window", "5,x"], "--window must be batch counts"),
        (
            ["fidelity", "--device", "epiram", "--schemes", "direct,turbo"],
            "--schemes must be a comma-separated list of"
        ),
        (["fidelity", "--schemes", "direct"], "--schemes needs --device NAME"),
        (["fidelity", "--device", "epiram", "--window", "1,2", "--ablate"], "cannot be combined with --ablate"),
        (
            ["fidelity", "--device", "epiram", "--schemes", "direct", "--compare-white"],
            "cannot be combined with --ablate or --compare-white"
        ),
        (
            ["fidelity", "--device", "ideal", "--schemes", "tiki-taka"],
            "field 'scheme' must be direct for the ideal device"
        ),
        (
            ["train", "--probe-every", "5", "--probe-window", "5", "--train-subset", "40", "--epochs", "1"],
            "--probe-window must be at most the 2 batches of an epoch"
        ),
        (
            ["sweep", "--vary", "algorithm=ep,bptt", "--measure", "fidelity", "--out", "/tmp/xbar-never-written"],
            "--measure fidelity probes EP's update"
        ),
        (
            ["sweep", "--vary", "algorithm=ep,sgd", "--out", "/tmp/xbar-never-written"],
            "sweep field 'algorithm' must be ep or bptt"
        ),
        // Found by a bad-input audit: each used to crash, hang, pass silently or print a multi-line error.
        (
            [
                "train", "--lr", "1e300,1e300", "--train-subset", "200", "--test-subset", "100", "--epochs", "1",
                "--quiet"
            ], "the weights became non-finite"
        ),
        (["train", "--layers", "784,100000000,10"], "field 'layers' must be sizes in 1…"),
        (["train", "--layers", "784,1000000,1000"], "weights in total"),
        (["train", "--T", "99999999999"], "field 'T' must be an integer in 1…100000"),
        (["gdu", "--device.levels", "4"], "device fields can be set only on"),
        (["noise", "--device", "epiram", "--length", "1000000000000"], "--length must be even and in 64…"),
        (["devices", "show", "epiram", "--devices", "100000000"], "--devices must be in 2…100000"),
        (["devices", "show", "epiram", "--pulses", "0"], "--pulses must be in 1…100000 (got 0)"),
        (["infer", "--checkpoint", "x.safetensors", "--draws", "0"], "--draws must be in 1…100 (got 0)"),
        (
            ["infer", "--checkpoint", "x.safetensors", "--compensation", "local"],
            "--compensation must be none, global or both (got 'local')"
        ),
        (
            ["infer", "--checkpoint", "x.safetensors", "--at", "1d,1h"],
            "--at: times must be increasing ('1h' is not after '1d')"
        ),
        (["infer", "--checkpoint", "/nonexistent/checkpoint.safetensors"], "/nonexistent/checkpoint.safetensors"),
        (
            [
                "train", "--device", "epiram", "--device.wire_resistance", "1", "--device.ir_drop_model", "exact",
                "--epochs", "1"
            ],
            "ir_drop_model exact solves arrays of at most 65536 devices; weight matrix 1 is 512 × 784 (401408); use "
                + "ir_drop_model first-order"
        ),
        (
            ["devices", "show", "epiram", "--devices", "100000", "--pulses", "100000"],
            "--devices × (2·--pulses + 1) must be at most 2e9"
        ),
        (["devices", "show", "epiram", "--start", "middle"], "--start must be lower or zero (got 'middle')"),
        (["train", "--lr", "0.1,,0.1"], "--lr: empty value in '0.1,,0.1'"),
        (["train", "--train-subset", "-5"], "--train-subset must be in 1…100000000 (got -5)"),
        (["train", "--model", "/tmp"], "preset file '/tmp' is a directory"),
        (["gdu", "--batch-size", "60001", "--T", "2", "--K", "2"], "batch_size must be ≤ 60000"),
        (["fidelity", "--batches", "100000000", "--T", "2", "--K", "1"], "--batches must be ≤ 3000"),
        (["fidelity", "--batches", "2", "--compare-white"], "--compare-white needs --device NAME"),
        (
            ["fidelity", "--device", "epiram", "--batches", "2", "--ablate", "--compare-white"],
            "--ablate and --compare-white are separate runs"
        ),
        (
            ["sweep", "--jobs", "0", "--vary", "model.beta=0.1,0.2", "--out", "/tmp/never"],
            "--jobs must be in 1…256 (got 0)"
        ),
        (
            ["train", "--device", "epiram", "--device.model", "foo"],
            "field 'model' must be one of ideal, linear-step, soft-bounds, exponential, aihwkit-linear-step, "
                + "aihwkit-soft-bounds, aihwkit-exp-step, aihwkit-pow-step, aihwkit-piecewise-step (got 'foo')"
        ),
        (["train", "--resume", "/no/such/run", "--beta", "0.5"], "drop --beta (only --epochs may be given)"),
        (
            ["train", "--device", "epiram", "--device.levels", "4", "--device.levels", "8"],
            "--device.levels is given more than once"
        ),
        (
            ["train", "--exact-primitive", "true"],
            "field 'exact_primitive' must be false unless the model is energy-based"
        ),
        (["gdu", "--checkpoint", "/tmp"], "checkpoint '/tmp' is a directory"),
        (
            ["sweep", "--device", "epiram", "--vary", "device.levels=4", "--vary", "device.levels=8"],
            "--vary device.levels is given more than once"
        ),
        (
            ["sweep", "--device", "epiram", "--vary", "device.levels=4", "--test-subset", "0"],
            "--test-subset must be ≥ 1"
        )
    ]

    /// An output folder that cannot be made gives the path and the reason on one line.
    @Test func outputFolderInTheWay() throws {
        let file = NSTemporaryDirectory() + "xbar-cli-file-\(UUID().uuidString)"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Self.run([
            "train", "--train-subset", "200", "--test-subset", "100", "--epochs", "1", "--quiet", "--out", file
        ])
        #expect(r.status == 2)
        #expect(r.stderr == "error: '\(file)': a file is in the way (a folder is needed)\n", "\(r.stderr)")
        // Commands that compute before writing check --out first (no header line, no work).
        let g = try Self.run(["gdu", "--T", "3", "--K", "2", "--out", file])
        #expect(g.status == 2 && g.stderr == "error: --out '\(file)' is a file, not a folder\n", "\(g.stderr)")
        let sub = try Self.run(["devices", "show", "epiram", "--out", file + "/sub"])
        #expect(
            sub.status == 2 && sub.stderr == "error: '\(file)/sub': '\(file)' is a file, not a folder\n",
            "\(sub.stderr)")
    }

    @Test(arguments: 0..<badInputs.count)
    func badInputGivesOneClearLine(_ i: Int) throws {
        let (args, expected) = Self.badInputs[i]
        let tmp = NSTemporaryDirectory() + "xbar-cli-\(UUID().uuidString)"
        let r = try Self.run(args + (args.contains("--resume") ? [] : ["--out", tmp]))
        #expect(r.status != 0, "\(args): exit status 0")
        #expect(r.status < 128, "\(args): crashed with status \(r.status)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(args): expected one line, got \(r.stderr)")
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(expected), "\(args): \(r.stderr)")
    }

    /// A network trained on a drifting device, evaluated later: infer.json holds every time and draw,
    /// and a software checkpoint is refused.
    @Test func inferEvaluatesACheckpointOverTime() throws {
        let tmp = NSTemporaryDirectory() + "xbar-infer-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let small = [
            "--layers", "784,16,10", "--T", "4", "--K", "2", "--epochs", "1", "--train-subset", "200", "--test-subset",
            "50", "--quiet"
        ]
        var r = try Self.run(["train", "--device", "pcm"] + small + ["--out", tmp + "/pcm"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try Self.run([
            "infer", "--checkpoint", tmp + "/pcm/checkpoint.safetensors", "--at", "1s,1y", "--draws", "2",
            "--test-subset", "50",
            "--compensation", "both", "--device.drift_nu", "0.1", "--out", tmp + "/infer"
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let data = try #require(FileManager.default.contents(atPath: tmp + "/infer/infer.json"))
        let docs = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(docs.map { $0["compensate"] as? Bool } == [false, true])
        let doc = docs[1]
        #expect((doc["errors"] as? [[Double]])?.map(\.count) == [2, 2])
        #expect((doc["seconds"] as? [Double]) == [1, 31_557_600])
        #expect(((doc["device"] as? [String: Any])?["device"] as? [String: Any])?["drift_nu"] as? Double == 0.1)
        #expect(FileManager.default.fileExists(atPath: tmp + "/infer/infer.svg"))
        r = try Self.run(["train"] + small + ["--out", tmp + "/soft"])
        r = try Self.run(["infer", "--checkpoint", tmp + "/soft/checkpoint.safetensors", "--out", tmp + "/infer2"])
        #expect(r.status != 0 && r.stderr.contains("holds software weights"), "\(r.stderr)")
    }

    @Test func devicesShowAndNoiseWriteTheirFiles() throws {
        let tmp = NSTemporaryDirectory() + "xbar-dev-\(UUID().uuidString)"
        var r = try Self.run(["devices", "show", "ag-a-si", "--out", tmp])
        #expect(r.status == 0, "\(r.stderr)")
        let docData = try #require(FileManager.default.contents(atPath: tmp + "/device.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: docData) as? [String: Any])
        let curve = try #require(doc["curve"] as? [String: Any])
        // NeuroSim's step-size ratio e^{(1 − 1/P)/a} for NL 2.4 (a = 0.4992), P = 97.
        let ratio = try #require(curve["step_ratio_ltp"] as? Double)
        #expect(abs(ratio / exp((1 - 1.0 / 97) / 0.4992) - 1) < 0.01, "step ratio \(ratio)")
        #expect(try String(contentsOfFile: tmp + "/device.svg", encoding: .utf8).contains("polyline"))
        r = try Self.run(["noise", "--device", "pcm", "--traces", "64", "--out", tmp])
        #expect(r.status == 0, "\(r.stderr)")
        let noiseData = try #require(FileManager.default.contents(atPath: tmp + "/noise.json"))
        let reports = try #require(try JSONSerialization.jsonObject(with: noiseData) as? [[String: Any]])
        let slope = try #require(reports.first?["fitted_slope"] as? Double)
        #expect(abs(slope + 1) <= 0.05, "slope \(slope)")
    }

    @Test func gduWritesJSONAndSVG() throws {
        let tmp = NSTemporaryDirectory() + "xbar-gdu-\(UUID().uuidString)"
        let r = try Self.run(["gdu", "--model", "toy", "--T", "800", "--K", "10", "--out", tmp])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(FileManager.default.contents(atPath: tmp + "/gdu.json"))
        let obj = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let layers = try #require(obj["layers"] as? [[String: Any]])
        #expect(Set(layers.compactMap { $0["kind"] as? String }) == ["neurons", "weights"])
        #expect(
            layers.allSatisfy { $0["relmse"] is Double && $0["sign_agreement"] is Double && $0["cosine"] is Double })
        let svg = try String(contentsOfFile: tmp + "/gdu.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline"))
    }
}
