import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// Sweeps: points, shards, merge, determinism across --jobs, crash-safe resume, validation.
@Suite struct SweepTests {
    /// A small, fast sweep: P-1h shrunk to 784-32-10 on the synthetic data set, EpiRAM crossbar.
    static func smallPlan(seeds: Int = 2) -> SweepPlan {
        var p = SweepPlan()
        p.model = "p-1h"; p.device = "epiram"; p.dataset = "synthetic"
        p.set = [
            .init(field: "model.layers", values: ["[784, 32, 10]"]), .init(field: "model.T", values: ["10"]),
            .init(field: "model.K", values: ["4"]), .init(field: "model.epochs", values: ["1"])
        ]
        p.vary = [
            .init(field: "device.levels", values: ["16", "64"]),
            .init(field: "device.white_noise", values: ["0", "0.01"])
        ]
        p.seeds = seeds; p.trainSubset = 200; p.testSubset = 60; p.fidelityBatches = 2
        return p
    }

    /// One run of `smallPlan`'s network and device, trained (accuracy only) for `epochs` epochs on
    /// `trainSubset` examples with an update scheme.
    static func trainingPlan(epochs: Int, trainSubset: Int, scheme: String) -> SweepPlan {
        var plan = smallPlan(seeds: 1)
        plan.set =
            plan.set.filter { $0.field != "model.epochs" } + [
                .init(field: "model.epochs", values: ["\(epochs)"]), .init(field: "device.scheme", values: [scheme])
            ]
        plan.vary = []
        plan.measure = .accuracy
        plan.trainSubset = trainSubset
        return plan
    }

    static let smallArgs = [
        "sweep", "--model", "p-1h", "--device", "epiram", "--dataset", "synthetic",
        "--set", "model.layers=[784,32,10]", "--set", "model.T=10", "--set", "model.K=4", "--epochs", "1",
        "--train-subset", "200", "--test-subset", "60", "--fidelity-batches", "2", "--quiet"
    ]

    static func tempDir(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "xbar-sweep-\(tag)-\(UUID().uuidString)"
        return d
    }

    @Test func pointsAreTheGridTimesSeedsAndRandomDrawsAreSeeded() throws {
        var p = Self.smallPlan(seeds: 3)
        #expect(p.runs().count == 2 * 2 * 3)
        #expect(Set(p.runs().map(\.key)).count == 12)
        #expect(p.runs()[0].key == "device.levels=16,device.white_noise=0#seed=1")
        p.random = 4
        p.ranges = [try SweepPlan.parseRange("device.c2c=0.001:0.1:log")]
        let a = p.runs(), b = p.runs()
        #expect(a.count == 48 && a.map(\.key) == b.map(\.key))
        let c2c = Set(
            a.compactMap { r in r.assignments.first { $0.field == "device.c2c" }.flatMap { Double($0.value) } })
        #expect(c2c.count == 4 && c2c.allSatisfy { $0 >= 0.001 && $0 <= 0.1 })
    }

    @Test func shardsPartitionTheRuns() {
        let runs = Self.smallPlan(seeds: 3).runs()
        for n in 1...5 {
            let shards = (1...n).map { SweepPlan.shard(runs, k: $0, of: n).map(\.index) }
            let all = shards.flatMap { $0 }
            #expect(all.count == runs.count, "N = \(n): \(all.count) runs in the shards")
            #expect(Set(all) == Set(runs.map(\.index)), "N = \(n): shards do not cover every run exactly once")
            #expect(
                shards.allSatisfy { abs($0.count - runs.count / n) <= 1 }, "N = \(n): unbalanced \(shards.map(\.count))"
            )
        }
    }

    @Test func sameMetricsWhateverTheJobCountAndMergeFindsMissingShards() throws {
        let plan = Self.smallPlan()
        let data = DataSet.synthetic(features: 784, train: 2000, test: 500)
        let serial = Self.tempDir("j1"), parallel = Self.tempDir("j2")
        defer {
            try? FileManager.default.removeItem(atPath: serial); try? FileManager.default.removeItem(atPath: parallel)
        }
        _ = try SweepExecutor.execute(plan: plan, outDir: serial, resume: false, jobs: 1, data: data)
        _ = try SweepExecutor.execute(plan: plan, outDir: parallel, resume: false, jobs: 2, data: data)
        let a = Dictionary(uniqueKeysWithValues: SweepExecutor.records(serial).map { ($0.key, $0.metrics) })
        let b = Dictionary(uniqueKeysWithValues: SweepExecutor.records(parallel).map { ($0.key, $0.metrics) })
        #expect(a.count == 8 && a == b, "metrics differ between --jobs 1 and --jobs 2")
        #expect(a.values.allSatisfy { $0["test_error"] != nil && $0["cosine"] != nil })

        // Shards 1/3, 2/3, 3/3 into separate folders; merging all is complete, leaving one out is not.
        let dirs = (1...3).map { Self.tempDir("shard\($0)") }
        let merged = Self.tempDir("merged")
        defer { for d in dirs + [merged] { try? FileManager.default.removeItem(atPath: d) } }
        for (k, d) in dirs.enumerated() {
            _ = try SweepExecutor.execute(plan: plan, outDir: d, resume: false, jobs: 2, shard: (k + 1, 3), data: data)
        }
        let full = try SweepExecutor.merge(dirs, into: merged)
        #expect(full.missing.isEmpty && full.duplicates.isEmpty && full.present == 8)
        let m = Dictionary(uniqueKeysWithValues: SweepExecutor.records(merged).map { ($0.key, $0.metrics) })
        #expect(m == a, "merged shards differ from the unsharded sweep")
        let partial = try SweepExecutor.merge([dirs[0], dirs[2]], into: merged)
        #expect(partial.missing.count == SweepPlan.shard(plan.runs(), k: 2, of: 3).count)
        let twice = try SweepExecutor.merge([dirs[0], dirs[0], dirs[1], dirs[2]], into: merged)
        #expect(twice.duplicates.count == SweepPlan.shard(plan.runs(), k: 1, of: 3).count && twice.conflicts.isEmpty)

        let files = try SweepExecutor.report(serial)
        #expect(files.count == 2)
        let csv = try String(contentsOfFile: files[0], encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + 4 && csv[0].hasPrefix("device.levels,device.white_noise,seeds,"))
    }

    /// SIGKILL mid-sweep, a torn last line, then --resume: every run exactly once, every line parses.
    /// A plan names presets; a resume whose presets resolve differently from the finished runs' (an
    /// edited preset, another program) is refused, naming the run and the field.
    @Test func resumeRefusesRunsMadeWithAnotherConfiguration() throws {
        var plan = Self.smallPlan(seeds: 1)
        plan.vary = [.init(field: "device.levels", values: ["16", "64"])]
        plan.measure = .fidelity
        let dir = Self.tempDir("stale")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try SweepExecutor.execute(plan: plan, outDir: dir, resume: false, jobs: 1)
        // Unchanged: the resume finds nothing to do.
        #expect(try SweepExecutor.execute(plan: plan, outDir: dir, resume: true, jobs: 1).skipped == 2)
        // A finished run recorded with another white-noise level than the preset now gives.
        let path = dir + "/" + SweepExecutor.resultsName
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var recs = text.split(separator: "\n").map { try! JSONDecoder().decode(SweepRecord.self, from: Data($0.utf8)) }
        recs[0].device?.forward.whiteNoise = 0.123
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        try (recs.map { String(decoding: try! enc.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n").write(
            toFile: path, atomically: false, encoding: .utf8)
        do {
            _ = try SweepExecutor.execute(plan: plan, outDir: dir, resume: true, jobs: 1)
            Issue.record("resumed a sweep whose finished run has another configuration")
        } catch let e as InputError {
            #expect(
                e.message.contains("run '\(recs[0].key)'") && e.message.contains("(forward.white_noise differs)"),
                "\(e.message)")
        }
    }

    /// A run stopped between epochs resumes from the state it saved to the record of an uninterrupted
    /// run: every epoch's test error and every count (pulses, reads, accumulator operations) equal,
    /// for each update scheme's state (χ of mixed precision, A and C of Tiki-Taka).
    @Test(arguments: ["direct", "mixed-precision", "tiki-taka", "tiki-taka-v2"])
    func stoppedRunResumesToTheRecordOfAnUninterruptedOne(scheme: String) throws {
        let plan = Self.trainingPlan(epochs: 3, trainSubset: 100, scheme: scheme)
        let data = DataSet.synthetic(features: 784, train: 2000, test: 500)
        let run = try #require(plan.runs().first)
        let whole = try SweepRunner.run(run, plan: plan, data: data)
        let dir = Self.tempDir("stop-\(scheme)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Stopped after epoch 1, then after epoch 2 (resumed from 1), then resumed to the end.
        for n in [1, 2] {
            #expect(throws: SweepRunner.Stopped.self) {
                _ = try SweepRunner.run(run, plan: plan, data: data, inProgress: dir, stopAfter: n)
            }
            let saved = try JSONDecoder().decode(
                RunInProgress.self,
                from: Data(contentsOf: URL(fileURLWithPath: dir + "/" + RunInProgress.progressName(n))))
            #expect(saved.epoch == n && saved.testErrorPerEpoch == Array(whole.testErrorPerEpoch.prefix(n)))
            // The previous epoch's progress is gone once the checkpoint of this one is written.
            #expect(!FileManager.default.fileExists(atPath: dir + "/" + RunInProgress.progressName(n - 1)))
        }
        let resumed = try SweepRunner.run(run, plan: plan, data: data, inProgress: dir)
        #expect(resumed.testErrorPerEpoch == whole.testErrorPerEpoch)
        // Errors and counts are equal; energy and latency are float sums whose order differs after a
        // resume (an epoch's costs are the arrays' running totals minus those before it): equal to rounding.
        #expect(Set(resumed.metrics.keys) == Set(whole.metrics.keys))
        for (k, v) in whole.metrics {
            let r = resumed.metrics[k] ?? .nan
            if k.hasSuffix("_per_sample") {
                #expect(abs(r - v) <= 1e-12 * abs(v), "\(k): \(r) vs \(v)")
            } else {
                #expect(r == v, "\(k): \(r) vs \(v)")
            }
        }
        #expect((whole.metrics["pulses"] ?? 0) > 0)
        #expect(SweepExecutor.sameMetrics(resumed.metrics, whole.metrics))
        // A saved state of another run, or of another configuration, is not resumed.
        var other = plan
        other.set += [.init(field: "model.beta", values: ["0.7"])]
        let otherRun = try #require(other.runs().first)
        let (spec, device) = try other.resolve(otherRun.assignments)
        let options = TrainingOptions(seed: 1, dataset: "synthetic", trainSubset: 100, testSubset: 60, device: device)
        #expect(RunInProgress.load(dir, key: run.key, spec: spec, options: options) == nil)
    }

    /// A saved state that is damaged or out of range is never resumed: the run starts over (and gives
    /// the uninterrupted record), and the bad state is replaced.
    @Test func invalidSavedStateStartsTheRunOver() throws {
        let plan = Self.trainingPlan(epochs: 2, trainSubset: 60, scheme: "direct")
        let data = DataSet.synthetic(features: 784, train: 2000, test: 500)
        let run = try #require(plan.runs().first)
        let whole = try SweepRunner.run(run, plan: plan, data: data)
        let bad: [(String, (inout [String: Any]) -> Void)] = [
            ("train error above 100 %", { $0["trainError"] = 1e9 }),
            ("negative wall time", { $0["seconds"] = -1 }),
            (
                "a count that would overflow",
                {
                    var c = $0["costs"] as! [String: Any]; c["reads"] = Int.max; $0["costs"] = c
                }
            ),
            ("another run's key", { $0["key"] = "other#seed=1" })
        ]
        for (what, damage) in bad {
            let dir = Self.tempDir("bad")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            #expect(throws: SweepRunner.Stopped.self) {
                _ = try SweepRunner.run(run, plan: plan, data: data, inProgress: dir, stopAfter: 1)
            }
            let path = dir + "/" + RunInProgress.progressName(1)
            var json = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            damage(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
            let rec = try SweepRunner.run(run, plan: plan, data: data, inProgress: dir)
            #expect(rec.testErrorPerEpoch == whole.testErrorPerEpoch, "\(what)")
            #expect(SweepExecutor.sameMetrics(rec.metrics, whole.metrics), "\(what)")
            // What the folder holds now is the new attempt's state after epoch 1, not the damaged one.
            let now = try JSONDecoder().decode(RunInProgress.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(now.key == run.key && now.isValid, "\(what): the bad state was kept")
        }
    }

    /// The executor keeps the runs in flight in `in-progress/` and removes each run's state when its
    /// record is kept: a finished sweep leaves none.
    @Test func finishedSweepLeavesNoStateInProgress() throws {
        var plan = Self.smallPlan(seeds: 1)
        plan.set = plan.set.filter { $0.field != "model.epochs" } + [.init(field: "model.epochs", values: ["2"])]
        plan.vary = [.init(field: "device.levels", values: ["16", "64"])]
        plan.measure = .accuracy
        plan.trainSubset = 60
        let dir = Self.tempDir("ip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = DataSet.synthetic(features: 784, train: 2000, test: 500)
        let s = try SweepExecutor.execute(plan: plan, outDir: dir, resume: false, jobs: 2, data: data)
        #expect(s.done == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + SweepExecutor.inProgressName))
    }

    @Test func killedSweepResumesWithEveryRunExactlyOnce() throws {
        let bin = try #require(CLITests.binary, "xbar binary not found next to the tests")
        let dir = Self.tempDir("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args =
            Self.smallArgs + ["--vary", "device.levels=8,16,32,64,128,256", "--seeds", "2", "--jobs", "1", "--out", dir]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        p.standardError = FileHandle.nullDevice
        try p.run()
        let results = dir + "/" + SweepExecutor.resultsName
        let deadline = Date().addingTimeInterval(120)
        while SweepExecutor.records(dir).count < 2 && Date() < deadline && p.isRunning { usleep(20_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = SweepExecutor.records(dir).count
        #expect(before >= 2 && before < 12, "killed after \(before) of 12 runs")
        // Simulate a write torn by the kill.
        let h = try #require(FileHandle(forWritingAtPath: results))
        h.seekToEndOfFile(); h.write(Data("{\"key\":\"device.levels=".utf8)); try h.close()

        let r = try CLITests.run(args + ["--resume"])
        #expect(r.status == 0, "resume failed: \(r.stderr)")
        let text = try String(contentsOfFile: results, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(text.hasSuffix("\n"))
        #expect(
            lines.allSatisfy { (try? JSONDecoder().decode(SweepRecord.self, from: Data($0.utf8))) != nil },
            "a line does not parse")
        let keys = lines.compactMap { try? JSONDecoder().decode(SweepRecord.self, from: Data($0.utf8)).key }
        #expect(keys.count == 12 && Set(keys).count == 12, "\(keys.count) lines, \(Set(keys).count) distinct runs")
    }

    @Test(
        arguments: [
            (["--vary", "device.no_such_field=1,2"], "unknown device field 'no_such_field'"),
            (["--vary", "model.no_such_field=1,2"], "unknown model field 'no_such_field'"),
            (["--vary", "levels=1,2"], "unknown sweep field 'levels'"),
            (["--vary", "device.levels="], "empty value"),
            (["--vary", "device.levels=16,,64"], "empty value"),
            (["--vary", "device.levels"], "expected FIELD=v1,v2"),
            (["--random", "3", "--range", "device.c2c=0.1"], "expected FIELD=lo:hi"),
            (["--random", "3", "--range", "device.c2c=0.1:0.01"], "expected FIELD=lo:hi"),
            (["--random", "3", "--range", "device.c2c=0:0.1:log"], "a log range needs lo > 0"),
            (["--random", "3"], "needs at least one --range"),
            (["--vary", "device.levels=16,-3"], "field 'levels'"),
            (["--vary", "model.beta=0.1,-1"], "field 'beta' must be a number in [1e-20, 1e6]"),
            (["--vary", "device.levels=16", "--shard", "3/2"], "expected k/N with 1 ≤ k ≤ N"),
            (["--vary", "device.levels=16", "--seeds", "0"], "--seeds must be in 1…1000000 (got 0)"),
            (["--vary", "device.levels=16", "--jobs", "0"], "--jobs must be in 1…256"),
            ([String](), "nothing to sweep")
        ] as [([String], String)])
    func badSweepsAreRejectedBeforeAnythingIsWritten(extra: [String], message: String) throws {
        let dir = Self.tempDir("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLITests.run(Self.smallArgs + extra + ["--out", dir])
        #expect(r.status == 2, "exit \(r.status) for \(extra)")
        let errLines = r.stderr.split(separator: "\n")
        #expect(
            errLines.count == 1 && errLines[0].hasPrefix("error: ") && r.stderr.contains(message),
            "\(extra): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir), "\(extra): wrote \(dir)")
    }

    @Test func sweepFileLoadsInOrder() throws {
        let path = Self.tempDir("file") + ".yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
        model: p-1h
        device: epiram
        seeds: 2
        measure: accuracy
        vary:
          device.levels: [16, 64, 256]
          device.flicker_k: [0, 1.0e-5]
        set:
          model.learning_rates: [0.1, 0.05]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let p = try SweepPlan.load(file: path)
        #expect(p.vary.map(\.field) == ["device.levels", "device.flicker_k"])
        #expect(p.vary[0].values == ["16", "64", "256"] && p.seeds == 2 && p.measure == .accuracy)
        #expect(p.set == [.init(field: "model.learning_rates", values: ["[0.1, 0.05]"])])
        try p.validate()
        for name in ["levels-x-flicker", "beta-symmetric", "random-c2c"] { try SweepPlan.load(file: name).validate() }
    }
}
