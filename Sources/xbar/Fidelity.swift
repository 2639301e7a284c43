import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

struct Fidelity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How far the realized (hardware) EP update strays from −lr·∇BPTT, per layer, over N batches.",
        discussion: """
            Runs N consecutive EP training steps on the model's weights (from --checkpoint or the seeded \
            initialisation), each read and programmed through the device, and compares the realized weight \
            change with −lr·∇BPTT computed exactly (Double) on the weights the arrays held. With --window W \
            the change accumulated over each W consecutive batches is compared with the sum of their W exact \
            steps (N/W windows); several lengths (--window 1,5,20) and update schemes (--schemes \
            direct,mixed-precision) give one variant each and the plot DIR/fidelity-window.svg. Writes \
            DIR/fidelity.json (mean and 95 % interval of cosine, RelMSE, sign agreement and norm ratio per \
            layer, and the hardware work of the probed updates) and DIR/fidelity.svg. --ablate adds the \
            error budget: every non-ideality off, then each alone.
            """)
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Device preset name or YAML path (plus --device.FIELD VALUE overrides); omit for software weights.")
    var device: String?
    @Option(help: "Weights from a training checkpoint.") var checkpoint: String?
    @Option(help: "Batches to probe.") var batches: Int = 20
    @Option(help: "Batches per window, or a comma-separated list of window lengths (each ≤ --batches).") var window:
        String = "1"
    @Option(
        help: ArgumentHelp(
            "Comma-separated update schemes to compare on the device (direct, mixed-precision, tiki-taka, "
                + "tiki-taka-v2); default: the device's own."
        ))
    var schemes: String?
    @Option(help: "Data: fashion-mnist, mnist or a folder of IDX files.") var dataset: String = "fashion-mnist"
    @Option(help: "Seed (init, batch order, device draws).") var seed: UInt64 = 1
    @Option(help: "Output folder.") var out: String = "runs/fidelity"
    @Flag(help: "Error budget: every non-ideality off, then each one alone.") var ablate = false
    @Flag(
        help: "Also run the device with its 1/f read noise replaced by white noise of the same form and total variance."
    )
    var compareWhite = false

    func run() throws {
        guard batches >= 1 else { throw InputError("--batches must be ≥ 1 (got \(batches))") }
        let spec = try modelOptions.resolve()
        var dev: DeviceSpec? = nil
        if let d = device { dev = try DeviceOverrides.resolve(d) } else { try DeviceOverrides.rejectUnused() }
        if ablate && dev == nil { throw InputError("--ablate needs --device NAME") }
        if compareWhite && dev == nil { throw InputError("--compare-white needs --device NAME") }
        if ablate && compareWhite {
            throw InputError("--ablate and --compare-white are separate runs: give one of them")
        }
        let windows = try window.split(separator: ",", omittingEmptySubsequences: false).map { w -> Int in
            guard let v = Int(w.trimmingCharacters(in: .whitespaces)), v >= 1, v <= batches else {
                throw InputError(
                    "--window must be batch counts in 1…\(batches) (--batches), comma-separated (got '\(window)')")
            }
            return v
        }
        let schemeList = try schemes.map { list in
            try list.split(separator: ",", omittingEmptySubsequences: false).map { name -> UpdateScheme in
                guard let s = UpdateScheme(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw InputError(
                        "--schemes must be a comma-separated list of "
                            + "\(UpdateScheme.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(name)')"
                    )
                }
                return s
            }
        }
        if schemeList != nil && dev == nil { throw InputError("--schemes needs --device NAME") }
        let sweep = windows.count > 1 || (schemeList?.count ?? 0) > 1
        if (sweep || schemeList != nil) && (ablate || compareWhite) {
            throw InputError(
                "several --window lengths or --schemes cannot be combined with --ablate or --compare-white")
        }
        var params = Parameters<Float>.initial(spec: spec, seed: seed)
        if let c = checkpoint {
            let ck = try TrainingRun.loadCheckpoint(c)
            try ck.check(fits: spec, path: c)
            params = ck.parameters
        }
        let data = try DataSet.load(dataset)
        guard data.train.features == spec.layers[0], data.train.classes == spec.layers.last! else {
            throw InputError(
                "model '\(spec.name)' has layers \(spec.layers) but '\(dataset)' has \(data.train.features) inputs "
                    + "and \(data.train.classes) classes"
            )
        }
        let available = data.train.count / spec.batchSize
        guard available >= 1 else {
            throw InputError(
                "batch_size must be ≤ \(data.train.count), the training examples of '\(dataset)' (got "
                    + "\(spec.batchSize))"
            )
        }
        guard batches <= available else {
            throw InputError(
                "--batches must be ≤ \(available) (\(data.train.count) training examples of '\(dataset)' in batches "
                    + "of \(spec.batchSize); got \(batches))"
            )
        }
        try dev?.checkArrays(params.weights.map { ($0.rows, $0.cols) })
        try OutputFolder.prepare(out)
        var results: [FidelityRun.Result]
        if let d = dev, sweep || schemeList != nil {
            results = []
            for scheme in schemeList ?? [d.scheme] {
                var v = d; v.scheme = scheme
                try v.validate()
                for w in windows {
                    Status.line("\(scheme.rawValue), window \(w)…", final: false)
                    results.append(
                        FidelityRun.run(
                            spec: spec, device: v, parameters: params, data: data.train, batches: batches, window: w,
                            seed: seed, variant: "\(scheme.rawValue), window \(w)"))
                }
            }
            Status.line("", final: false)
        } else if sweep {
            results = windows.map { w in
                FidelityRun.run(
                    spec: spec, device: nil, parameters: params, data: data.train, batches: batches, window: w,
                    seed: seed,
                    variant: "software, window \(w)")
            }
        } else if ablate, let d = dev {
            results = FidelityRun.ablate(
                spec: spec, device: d, parameters: params, data: data.train, batches: batches, window: windows[0],
                seed: seed
            ) { name in
                Status.line("error budget: \(name)…", final: false)
            }
            Status.line("", final: false)
        } else if compareWhite, let d = dev {
            guard d.flickerK > 0 && d.flickerGamma > 0 else {
                throw InputError("--compare-white needs a device with 1/f noise (flicker_k > 0, flicker_gamma > 0)")
            }
            // Same per-sample variance: scale K so that Σ P_k of the white spectrum equals that of 1/f.
            let n = d.noiseLength
            let v1 = NoiseSynthesizer(spectrum: .flicker(k: d.flickerK, gamma: d.flickerGamma), length: n, dt: d.tStep)
                .variance
            let v0 = NoiseSynthesizer(spectrum: .flicker(k: 1, gamma: 0), length: n, dt: d.tStep).variance
            var w = d; w.flickerGamma = 0; w.flickerK = v1 / v0
            let ww = windows[0]
            results = [
                FidelityRun.run(
                    spec: spec, device: d, parameters: params, data: data.train, batches: batches, window: ww,
                    seed: seed,
                    variant: String(format: "1/f^%.2g", d.flickerGamma)),
                FidelityRun.run(
                    spec: spec, device: w, parameters: params, data: data.train, batches: batches, window: ww,
                    seed: seed,
                    variant: "white, same variance")
            ]
        } else {
            results = [
                FidelityRun.run(
                    spec: spec, device: dev, parameters: params, data: data.train, batches: batches, window: windows[0],
                    seed: seed)
            ]
        }
        try writeJSON(results, to: (out as NSString).appendingPathComponent("fidelity.json"))
        let title =
            "Fidelity of EP updates on \(dev?.name ?? "software weights"): \(spec.name), β = \(spec.beta), "
            + "\(batches) batches"
        var written = ["fidelity.json", "fidelity.svg"]
        if sweep {
            try AtomicFile.write(
                FidelityRun.windowSVG(results, title: title),
                to: (out as NSString).appendingPathComponent("fidelity-window.svg"))
            written.append("fidelity-window.svg")
        }
        try AtomicFile.write(
            FidelityRun.svg(results, title: title), to: (out as NSString).appendingPathComponent("fidelity.svg"))
        for r in results {
            if results.count > 1 { print("\(r.variant):") }
            for l in r.layers {
                let ratio = l.normRatio.map { String(format: "  norm ratio %.3f", $0.mean) } ?? ""
                print(
                    "  " + l.layer
                        + String(
                            format: "  cosine %.4f [%.4f, %.4f]  RelMSE %.3f  sign %.1f%%", l.cosine.mean, l.cosine.low,
                            l.cosine.high, l.relmse.mean, l.signAgreement.mean) + ratio)
            }
            if let c = r.costs, r.batches > 0 {
                let samples = Double(r.batches * spec.batchSize)
                print(
                    String(
                        format:
                            "  work per sample: %.0f pulses, %.0f devices pulsed, %.3g reads, %.0f accumulator ops; "
                            + "energy %.3g J, latency %.3g s",
                        c.pulses / samples, Double(c.devicesPulsed) / samples, Double(c.reads) / samples,
                        Double(c.accumulatorOps) / samples,
                        c.energy / samples, c.latency / samples))
            }
        }
        if ablate {
            // Shares of the loss of cosine among the single-non-ideality variants.
            let base = results[0].meanCosine
            let singles = results.dropFirst().filter { $0.variant != "all on" }
            let losses = singles.map { max(0, base - $0.meanCosine) }
            let total = losses.reduce(0, +)
            print("error budget (share of the summed loss of mean cosine, relative to '\(results[0].variant)'):")
            for (r, l) in zip(singles, losses) {
                print(
                    "  " + r.variant.padding(toLength: 24, withPad: " ", startingAt: 0)
                        + String(format: " %.4f  %5.1f%%", l, total > 0 ? 100 * l / total : 0))
            }
        }
        print("wrote " + written.map { "\(out)/\($0)" }.joined(separator: ", "))
    }
}
