import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// Nothing lost, ever: one writer per folder, divergence as a result, storage errors, crafted and
/// non-regular files, bounded work, validation of what is read back, byte-identical artifacts.
@Suite struct HardeningTests {
    static func tempDir(_ tag: String) -> String { NSTemporaryDirectory() + "xbar-hard-\(tag)-\(UUID().uuidString)" }

    /// A tiny P model on synthetic data: a whole training takes milliseconds.
    static let tiny = NetworkSpec(
        name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 6, K: 2,
        beta: 0.5, nudging: .symmetric, learningRates: [0.1, 0.05], batchSize: 10, epochs: 2)
    static let data = DataSet.synthetic(features: 32, train: 100, test: 40)
    static let options = TrainingOptions(seed: 3, dataset: "synthetic")

    func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as InputError { return e.message } catch { return "\(error)" }
    }

    // MARK: One writer per folder

    /// A second lock on a locked folder fails at once naming the holder; after unlock it succeeds,
    /// and taking it removes the temporary files a killed writer left.
    @Test func folderLockAdmitsOneWriter() throws {
        let dir = Self.tempDir("lock")
        let first = try FolderLock(dir, purpose: "training")
        let m = message { _ = try FolderLock(dir, purpose: "sweep") }
        #expect(m?.contains("being written by another xbar (pid \(getpid()), training)") == true, "\(m ?? "no error")")
        first.unlock()
        #expect(FileManager.default.createFile(atPath: dir + "/checkpoint.safetensors.tmp-99999", contents: Data([1])))
        #expect(FileManager.default.createFile(atPath: dir + "/keep.tmp-notapid", contents: Data([1])))
        let second = try FolderLock(dir, purpose: "training")
        #expect(!FileManager.default.fileExists(atPath: dir + "/checkpoint.safetensors.tmp-99999"))
        #expect(FileManager.default.fileExists(atPath: dir + "/keep.tmp-notapid"))
        second.unlock()
    }

    /// Training, a sweep and a merge into a folder another writer holds are refused before they
    /// write anything.
    @Test func writersOfALockedFolderAreRefused() throws {
        let dir = Self.tempDir("busy")
        let holder = try FolderLock(dir, purpose: "training")
        defer { holder.unlock() }
        let m = message {
            try TrainingRun.run(spec: Self.tiny, options: Self.options, outDir: dir, resume: false, data: Self.data)
        }
        #expect(m?.contains("being written by another xbar") == true, "\(m ?? "no error")")
        var plan = SweepTests.smallPlan(seeds: 1)
        plan.vary = [.init(field: "device.levels", values: ["16"])]
        let s = message {
            _ = try SweepExecutor.execute(
                plan: plan, outDir: dir, resume: false, jobs: 1, data: .synthetic(features: 784, train: 200, test: 60))
        }
        #expect(s?.contains("being written by another xbar") == true, "\(s ?? "no error")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [FolderLock.fileName])
    }

    /// `sweep merge` refuses a target that is one of its shards (also through a symbolic link) or a
    /// non-empty folder that is not a merge of the same sweep; it may redo its own merge.
    @Test func mergeNeverOverwritesASweep() throws {
        var plan = SweepTests.smallPlan(seeds: 1)
        plan.vary = [.init(field: "device.levels", values: ["16"])]
        let data = DataSet.synthetic(features: 784, train: 200, test: 60)
        let a = Self.tempDir("shard"), other = Self.tempDir("other")
        _ = try SweepExecutor.execute(plan: plan, outDir: a, resume: false, jobs: 1, data: data)
        plan.seeds = 2
        _ = try SweepExecutor.execute(plan: plan, outDir: other, resume: false, jobs: 1, data: data)
        let before = try Data(contentsOf: URL(fileURLWithPath: other + "/results.jsonl"))
        let link = Self.tempDir("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: a)
        #expect(
            message { _ = try SweepExecutor.merge([a], into: link) }?.contains("is one of the folders merged") == true)
        #expect(
            message { _ = try SweepExecutor.merge([a], into: other) }?.contains("is not a merge of this sweep") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: other + "/results.jsonl")) == before)
        let merged = Self.tempDir("merged")
        #expect(try SweepExecutor.merge([a], into: merged).present == 1)
        #expect(try SweepExecutor.merge([a], into: merged).present == 1)
    }

    // MARK: Divergence is a result

    /// A sweep point whose weights blow up is recorded with status `diverged`, `null` metrics and
    /// the first non-finite weight; the other points finish, a resume does not redo it, and the
    /// report counts it apart from the statistics.
    @Test func divergedSweepPointIsRecordedAndTheSweepFinishes() throws {
        var plan = SweepTests.smallPlan(seeds: 1)
        plan.device = nil
        plan.vary = [.init(field: "model.learning_rates", values: ["[0.1, 0.05]", "[3e38, 3e38]"])]
        plan.measure = .both
        let data = DataSet.synthetic(features: 784, train: 200, test: 60)
        let dir = Self.tempDir("diverged")
        let summary = try SweepExecutor.execute(plan: plan, outDir: dir, resume: false, jobs: 2, data: data)
        #expect(summary.failed.isEmpty && summary.done == 2 && summary.diverged.count == 1)
        let recs = SweepExecutor.records(dir).sorted { $0.index < $1.index }
        #expect(recs.map(\.status) == [.ok, .diverged])
        #expect(recs[1].reason?.contains("non-finite (first: W01[") == true, "\(recs[1].reason ?? "")")
        #expect(recs[1].metrics["test_error"]!.isNaN && recs[0].metrics.values.allSatisfy(\.isFinite))
        let text = try String(contentsOfFile: dir + "/results.jsonl", encoding: .utf8)
        #expect(text.contains("\"test_error\":null") && text.contains("\"status\":\"diverged\""))
        let again = try SweepExecutor.execute(plan: plan, outDir: dir, resume: true, jobs: 1, data: data)
        #expect(again.skipped == 2 && again.done == 0)
        let rows = try SweepExecutor.table(dir).rows
        #expect(
            rows.map(\.diverged) == [0, 1] && rows[1].mean["test_error"] == nil && rows[0].mean["test_error"] != nil)
    }

    // MARK: Storage errors

    /// On a full file system an atomic write and a log append fail with one line naming the file
    /// and the reason, the previous file is intact, and no temporary file or torn line is left.
    /// Needs a small tmpfs (root in a container that allows mounts); skipped otherwise.
    @Test func fullDiskLosesNothing() throws {
        let mnt = Self.tempDir("tmpfs")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil else { print("skipped: cannot run mount"); return }
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { print("skipped: mounting a tmpfs is not allowed here"); return }
        defer {
            let u = Process(); u.executableURL = URL(fileURLWithPath: "/bin/umount"); u.arguments = [mnt]
            try? u.run(); u.waitUntilExit()
        }
        let path = mnt + "/checkpoint.safetensors"
        let old = Data(repeating: 7, count: 40_000)
        try AtomicFile.write(old, to: path)
        var error: Error? = nil
        do { try AtomicFile.write(Data(repeating: 8, count: 40_000), to: path) } catch let e { error = e }
        let storage = try #require(error as? StorageError)
        #expect(
            storage.code == ENOSPC && storage.description.contains("No space left on device")
                && storage.description.contains(path))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == old)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt) == ["checkpoint.safetensors"])
        // A log on the nearly full disk: the line that does not fit is cut back off.
        let log = try JSONLWriter(path: mnt + "/log.jsonl")
        try log.append(["epoch": 1])
        var appended = 1
        do {
            while true { try log.append(["padding": String(repeating: "x", count: 4000)]); appended += 1 }
        } catch is StorageError {}
        let text = try String(contentsOfFile: mnt + "/log.jsonl", encoding: .utf8)
        #expect(text.hasSuffix("\n") && text.split(separator: "\n").count == appended)
    }

    // MARK: Crafted and non-regular files

    /// Checkpoint tensors with a negative or overflowing shape, and IDX headers whose dimensions
    /// overflow, are refused with a message (no trap).
    @Test func craftedShapesAreRefused() throws {
        func file(shape: String) -> Data {
            let header = "{\"W\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,8]}}"
            var d = Data(); var n = UInt64(header.utf8.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(header.utf8)); d.append(contentsOf: [UInt8](repeating: 0, count: 8))
            return d
        }
        for shape in ["[-2,-1]", "[4611686018427387904,4]", "[3037000500,3037000500]"] {
            let m = message { _ = try Safetensors.decode(file(shape: shape), source: "x") }
            #expect(m?.contains("does not fit the data") == true, "\(shape): \(m ?? "no error")")
        }
        #expect(message { _ = try Safetensors.decode(file(shape: "[2]"), source: "x") } == nil)
        // IDX: 4 dimensions of 0xFFFFFFFF each.
        let idx: [UInt8] = [0, 0, 8, 4] + [UInt8](repeating: 0xFF, count: 16)
        #expect(message { _ = try IDX.parse(idx, source: "x") }?.contains("IDX dimensions") == true)
    }

    /// YAML whose mapping keys are lists or mappings (Yams traps on them; found by `scripts/fuzz`) is
    /// refused with a message, in files and in values given on the command line.
    @Test func complexYAMLKeysAreRefused() throws {
        for text in ["name: x\n? [a, b]: 1\n", "device:\n  ? {g_min: 1}: 2\n", "? !!set {a}: 1\n"] {
            #expect(
                message { _ = try NetworkSpec.decode(yaml: text, source: "f") }?.contains("a key must be a plain name")
                    == true, "\(text)")
            #expect(
                message { _ = try DeviceSpec.decode(yaml: text, source: "f") }?.contains("a key must be a plain name")
                    == true, "\(text)")
        }
        #expect(
            message { _ = try Self.tiny.setting("layers", to: "{? [1]: 2}") }?.contains("a key must be a plain name")
                == true)
        #expect(
            message { _ = try DeviceSpec.load("epiram").setting("levels", to: "{? [1]: 2}") }?.contains(
                "a key must be a plain name") == true)
    }

    /// A FIFO given as a checkpoint, a data file or a preset is refused at once instead of blocking.
    @Test func nonRegularFilesAreRefused() throws {
        let dir = Self.tempDir("fifo")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let t0 = Date()
        #expect(message { _ = try TrainingRun.loadCheckpoint(fifo) }?.contains("not a regular file") == true)
        #expect(message { _ = try IDX.readFile(fifo) }?.contains("not a regular file") == true)
        #expect(mkfifo(dir + "/net.yaml", 0o644) == 0)
        #expect(message { _ = try NetworkSpec.load(dir + "/net.yaml") }?.contains("not a regular file") == true)
        #expect(Date().timeIntervalSince(t0) < 5)
    }

    // MARK: Validated at the boundary

    /// Options read back from a checkpoint are validated as if given on the command line; a
    /// non-finite device state is named.
    @Test func checkpointOptionsAreValidatedOnResume() throws {
        let dir = Self.tempDir("resume")
        try TrainingRun.run(spec: Self.tiny, options: Self.options, outDir: dir, resume: false, data: Self.data)
        let path = dir + "/" + TrainingRun.checkpointName
        var ck = try TrainingRun.loadCheckpoint(path)
        for (change, field) in [
            ({ (o: inout TrainingOptions) in o.evalBatchSize = 0 }, "eval_batch_size"),
            ({ (o: inout TrainingOptions) in o.bpttWindow = -1 }, "bptt_window"),
            ({ (o: inout TrainingOptions) in o.chunks = 0 }, "chunks")
        ] {
            var bad = ck; change(&bad.options)
            try TrainingRun.saveCheckpoint(bad, to: path)
            let m = message {
                try TrainingRun.run(spec: Self.tiny, options: Self.options, outDir: dir, resume: true, data: Self.data)
            }
            #expect(
                m?.contains("checkpoint '\(path)'") == true && m?.contains("'\(field)'") == true, "\(m ?? "no error")")
        }
        ck.arrayState = [["g_plus": [0, .nan]], [:]]
        try TrainingRun.saveCheckpoint(ck, to: path)
        #expect(
            message { _ = try TrainingRun.loadCheckpoint(path) }?.contains("non-finite device state W01.g_plus[1]")
                == true)
    }

    /// Empty data sets, zero epochs, an oversized sweep, duplicate sweep values and a field the
    /// ideal device ignores are refused with a message naming them.
    @Test func inputsThatWouldGiveNoResultAreRefused() throws {
        let noTest = DataSet(name: "no-test", train: Self.data.train, test: Self.data.test.subset([]))
        #expect(
            message {
                try TrainingRun.run(
                    spec: Self.tiny, options: Self.options, outDir: Self.tempDir("e"), resume: false, data: noTest)
            }
                == "data set 'no-test' has no test examples")
        var zero = Self.tiny; zero.epochs = 0
        #expect(
            message {
                try TrainingRun.run(
                    spec: zero, options: Self.options, outDir: Self.tempDir("z"), resume: false, data: Self.data)
            }?
            .contains("'epochs' must be ≥ 1") == true)
        var big = SweepTests.smallPlan(seeds: 10)
        big.vary = [
            .init(field: "model.T", values: (1...1000).map(String.init)),
            .init(field: "model.K", values: (1...1000).map(String.init))
        ]
        let t0 = Date()
        #expect(message { try big.validate() }?.contains("10000000 runs, more than 10000; add 'allow_large'") == true)
        #expect(Date().timeIntervalSince(t0) < 2)
        var dup = SweepTests.smallPlan(seeds: 1)
        dup.vary = [.init(field: "device.levels", values: ["16", "16"])]
        #expect(message { try dup.validate() }?.contains("value '16' is given more than once") == true)
        var epochs0 = SweepTests.smallPlan(seeds: 1)
        epochs0.set = epochs0.set.filter { $0.field != "model.epochs" } + [.init(field: "model.epochs", values: ["0"])]
        #expect(message { try epochs0.validate() }?.contains("'epochs' must be ≥ 1 to measure accuracy") == true)
        #expect(
            message { _ = try DeviceSpec.load("ideal").setting("levels", to: "16") }?.contains("has no effect") == true)
        var spec = Self.tiny; spec.batchSize = Int.max
        #expect(message { try spec.validate() }?.contains("'batch_size' must be an integer in 1…65536") == true)
    }

    // MARK: Found by the hostile-input audit

    /// A phase gap of more read steps than the integer clock holds, and times out of range, are
    /// refused (they trapped in Double → Int); so are noise amplitudes that would overflow.
    @Test func deviceTimesAndAmplitudesAreBounded() throws {
        let d = try DeviceSpec.load("epiram")
        for (field, value, rule) in [
            ("phase_gap", "1e13", "at most 1e9 read steps"), ("t_step", "1e-30", "in [1e-15, 1e3] s"),
            ("flicker_k", "1e300", "in [0, 10]"), ("adc_bound", "1e-300", "in [1e-6, 1e6]"),
            ("levels", "2000000000", "2…16777216"), ("max_pulses", "1000000000", "1…1000000")
        ] {
            let m = message { _ = try d.setting(field, to: value) }
            #expect(
                m?.contains("field '\(field)'") == true && m?.contains(rule) == true, "\(field): \(m ?? "no error")")
        }
        #expect(message { _ = try d.setting("phase_gap", to: "1e-3") } == nil)
    }

    /// Anchors and aliases are refused before the parser expands them (nine nested aliases of
    /// nine items would ask for 9⁹ nodes); `&` and `*` inside strings and comments are fine.
    @Test func yamlAliasesAreRefusedBeforeExpansion() throws {
        var bomb = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
        for i in 1...9 {
            bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ",") + "]\n"
        }
        let t0 = Date()
        #expect(
            message { _ = try NetworkSpec.decode(yaml: bomb, source: "b") }?.contains("anchors and aliases ('&a0')")
                == true)
        #expect(Date().timeIntervalSince(t0) < 1)
        #expect(PresetYAML.firstAnchorOrAlias("source: \"R&D *x\" # a &b\nname: 'a & b'\nx: 2*3\n") == nil)
        #expect(PresetYAML.firstAnchorOrAlias("x: [1, *y]\n") == "*y")
    }

    /// The characterization of a quantized device (whose last step is 0, an infinite step ratio)
    /// writes JSON with `null` for the ratio instead of failing.
    @Test func quantizedDeviceCurveEncodes() throws {
        var d = try DeviceSpec.load("epiram"); d.levels = 16
        let c = try Characterization.curve(d, devices: 4)
        let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        #expect(!c.stepRatioLTP.isFinite && json.contains("\"step_ratio_ltp\":null"))
        #expect(try JSONDecoder().decode(Characterization.Curve.self, from: Data(json.utf8)).stepRatioLTP == .infinity)
    }

    /// A sweep whose fidelity batches or subsets do not fit the data is refused before it runs (it
    /// used to measure fewer batches than the plan records), and the report counts a run recorded
    /// twice once.
    @Test func sweepsFitTheirDataAndReportEachRunOnce() throws {
        let data = DataSet.synthetic(features: 784, train: 200, test: 60)
        var p = SweepTests.smallPlan(seeds: 1)
        p.vary = [.init(field: "device.levels", values: ["16"])]
        p.fidelityBatches = 10
        let dir = Self.tempDir("fit")
        #expect(
            message { _ = try SweepExecutor.execute(plan: p, outDir: dir, resume: false, jobs: 1, data: data) }?
                .contains("'fidelity_batches' 10 needs 200 test examples at batch size 20") == true)
        p.fidelityBatches = 2; p.testSubset = 100
        #expect(
            message { _ = try SweepExecutor.execute(plan: p, outDir: dir, resume: false, jobs: 1, data: data) }?
                .contains("'test_subset' 100 is more than the 60 test examples") == true)
        #expect(!FileManager.default.fileExists(atPath: dir))
        p.testSubset = 60
        _ = try SweepExecutor.execute(plan: p, outDir: dir, resume: false, jobs: 1, data: data)
        let path = dir + "/results.jsonl"
        let line = try String(contentsOfFile: path, encoding: .utf8)
        try (line + line.replacingOccurrences(of: "\"test_error\":", with: "\"test_error\":1000,\"x\":")).write(
            toFile: path, atomically: true, encoding: .utf8)
        let rows = try SweepExecutor.table(dir).rows
        #expect(rows.count == 1 && rows[0].seeds == 1 && rows[0].mean["test_error"]! < 100)
        #expect(SweepExecutor.anomalies(dir).duplicates.count == 1)
    }

    /// Crafted checkpoints the audit found accepted or misreported: overlapping tensors, metadata
    /// that is not text, crossbar state without a device, conductances outside [0, 1].
    @Test func craftedCheckpointsAreNamed() throws {
        func header(_ json: String) -> Data {
            var d = Data(); var n = UInt64(json.utf8.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(json.utf8)); d.append(contentsOf: [UInt8](repeating: 0, count: 16))
            return d
        }
        let overlap = header(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}"
        )
        #expect(
            message { _ = try Safetensors.decode(overlap, source: "x") }?.contains("tensors 'a' and 'b' overlap")
                == true)
        let numeric = header("{\"__metadata__\":{\"format\":\"eqprop-crossbar/1\",\"epoch\":1}}")
        #expect(
            message { _ = try Safetensors.decode(numeric, source: "x") }?.contains("must map names to strings") == true)
        // A device run, its options stripped of the device: its conductances would be silently dropped.
        let dir = Self.tempDir("state")
        var o = Self.options; o.device = try DeviceSpec.load("epiram")
        var one = Self.tiny; one.epochs = 1
        try TrainingRun.run(spec: one, options: o, outDir: dir, resume: false, data: Self.data)
        let path = dir + "/" + TrainingRun.checkpointName
        var ck = try TrainingRun.loadCheckpoint(path)
        var noDevice = ck; noDevice.options.device = nil
        try TrainingRun.saveCheckpoint(noDevice, to: path)
        #expect(
            message { _ = try TrainingRun.loadCheckpoint(path) }?.contains(
                "is crossbar state, but the options name no device") == true)
        ck.arrayState[0]["g_pos"]![3] = -1
        try TrainingRun.saveCheckpoint(ck, to: path)
        let m = message { try TrainingRun.run(spec: Self.tiny, options: o, outDir: dir, resume: true, data: Self.data) }
        #expect(
            m?.contains(
                "crossbar state 'g_pos'[3] = -1.0 is outside the devices' normalized conductance range [0.0, 1.0]")
                == true, "\(m ?? "no error")")
    }

    // MARK: Byte-reproducible artifacts

    /// Two identical runs write byte-identical checkpoints and model files; a run with probe lines
    /// still writes its curves and Table 1 counts only its epochs.
    @Test func identicalRunsWriteIdenticalBytes() throws {
        var o = Self.options; o.probeEvery = 3
        let root = Self.tempDir("bytes")
        let a = root + "/tiny/ep/seed1", b = root + "/tiny/ep/seed2"
        try TrainingRun.run(spec: Self.tiny, options: o, outDir: a, resume: false, data: Self.data)
        try TrainingRun.run(spec: Self.tiny, options: o, outDir: b, resume: false, data: Self.data)
        for f in [TrainingRun.checkpointName, "model.yaml"] {
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: a + "/" + f))
                    == Data(contentsOf: URL(fileURLWithPath: b + "/" + f)), "\(f)")
        }
        let log = try String(contentsOfFile: a + "/log.jsonl", encoding: .utf8)
        #expect(log.contains("\"batch\""), "probe lines are logged")
        #expect(FileManager.default.fileExists(atPath: a + "/curves.svg"))
        let rows = try Table1.rows(root)
        #expect(rows.count == 1 && rows[0].epochs == Self.tiny.epochs && rows[0].trials == 2)
    }

    @Test func table1CellsShowNoSpreadForOneTrialAndNoZeroTimeForShortRuns() {
        #expect(Table1.testErrorCell(mean: 10.614, std: 0, trials: 1) == "10.61")
        #expect(Table1.testErrorCell(mean: 10.614, std: 0.236, trials: 3) == "10.61 ± 0.24")
        #expect(Table1.wallTimeCell(hours: 14.2 / 3600) == "14 s")
        #expect(Table1.wallTimeCell(hours: 59.7 / 60) == "1:00 h")
        #expect(Table1.wallTimeCell(hours: 1 + 24.4 / 60) == "1:24 h")
        #expect(Table1.wallTimeCell(hours: 2 + 59.6 / 60) == "3:00 h")
    }
}
