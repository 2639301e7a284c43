import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Evaluate a network trained on crossbars at times after programming (conductance drift, 1/f wander, "
            + "drift compensation).",
        discussion: """
            Loads a crossbar checkpoint and evaluates its test error as programmed and at each --at time \
            after the reference read (drift_t0 after programming): every device's conductance drifts as \
            G·((t + t₀)/t₀)^(−ν) with its own ν (device fields drift_nu, drift_nu_dtod, drift_t0) and wanders \
            as its 1/f law implies (flicker_k), --draws times per time; reads go through the device's read \
            path as in training. --compensation global scales each array's outputs by one digital factor \
            that restores its summed response to an all-ones input; both evaluates without and with it. \
            --device.FIELD VALUE overrides a field of the checkpoint's device (e.g. --device.drift_nu 0.05). \
            Writes DIR/infer.json (one result per compensation setting) and DIR/infer.svg.
            """)
    @Option(help: "Training checkpoint of a crossbar run (DIR/checkpoint.safetensors).") var checkpoint: String
    @Option(
        help:
            "Times after programming, increasing: e.g. 1s,1h,1d,1y (units s, m, h, d, w, y; a bare number is seconds).")
    var at: String = "1s,1h,1d,1y"
    @Option(help: "Draws of the 1/f wander per time (1…100).") var draws: Int = 3
    @Option(help: "Drift compensation: none, global (one output gain per array) or both.") var compensation: String =
        "none"
    @Option(help: "Evaluate on the first N test examples.") var testSubset: Int?
    @Option(help: "Data: fashion-mnist, mnist or a folder of IDX files (default: the checkpoint's).") var dataset:
        String?
    @Option(help: "Output folder.") var out: String = "runs/infer"

    func run() throws {
        guard (1...100).contains(draws) else { throw InputError("--draws must be in 1…100 (got \(draws))") }
        if let n = testSubset, n < 1 { throw InputError("--test-subset must be ≥ 1 (got \(n))") }
        let settings: [Bool]
        switch compensation {
        case "none": settings = [false]
        case "global": settings = [true]
        case "both": settings = [false, true]
        default: throw InputError("--compensation must be none, global or both (got '\(compensation)')")
        }
        let times = try Inference.parseTimes(at)
        let ck = try TrainingRun.loadCheckpoint(checkpoint)
        guard var device = ck.options.device else {
            throw InputError(
                "checkpoint '\(checkpoint)' holds software weights: infer needs a network trained on crossbars (xbar "
                    + "train --device NAME)"
            )
        }
        guard device.model != .ideal else {
            throw InputError(
                "checkpoint '\(checkpoint)' was trained on the ideal device: it stores exact weights, which do not "
                    + "drift"
            )
        }
        for (k, v) in DeviceOverrides.pairs { device = try device.setting(k, to: v) }
        var data = try DataSet.load(dataset ?? ck.options.dataset)
        if let n = testSubset {
            guard n <= data.test.count else {
                throw InputError("--test-subset must be ≤ \(data.test.count), the test examples (got \(n))")
            }
            data.test = data.test.subset(Array(0..<n))
        }
        try OutputFolder.prepare(out)
        var results: [(name: String, result: Inference.Result)] = []
        for c in settings {
            let r = try Inference.run(
                checkpoint: ck, device: device, times: times, draws: draws, compensate: c, data: data
            ) {
                Status.line((c ? "compensated, " : "") + $0 + "…", final: false)
            }
            results.append((device.name + (c ? ", compensated" : ""), r))
        }
        Status.line("", final: false)
        try writeJSON(results.map(\.result), to: (out as NSString).appendingPathComponent("infer.json"))
        try AtomicFile.write(
            Inference.svg(results, title: "\(ck.spec.name) on \(device.name): test error after programming"),
            to: (out as NSString).appendingPathComponent("infer.svg"))
        for (name, r) in results {
            print(
                String(
                    format: "%@ (ν %.3g ± %.3g, t₀ %g s): as programmed %.2f %%", name, device.driftNu,
                    device.driftNuDtod, device.driftT0, r.programmed))
            for (k, label) in r.labels.enumerated() {
                print(String(format: "  t = %@: %.2f ± %.2f %%", label, r.mean[k], r.std[k]))
            }
        }
        print("wrote \(out)/infer.json and \(out)/infer.svg")
    }
}
