import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

struct GDUCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gdu",
        abstract: "Compare per-step EP updates with exact BPTT gradients on one batch (the seed's GDU check).",
        discussion: "Writes DIR/gdu.json (per-layer RelMSE, sign agreement, cosine; per-step series) and DIR/gdu.svg.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "double | float.")
    var precision: String = "double"
    @Option(
        help: ArgumentHelp(
            "Data for the batch: fashion-mnist, mnist, a folder of IDX files, or 'random' (x ~ U(0,1), random "
                + "labels; the default when the model's input is not 784 wide)."
        ))
    var dataset: String?
    @Option(help: "Weights from a training checkpoint instead of the seeded initialisation.")
    var checkpoint: String?
    @Option(help: "Seed (initialisation and the choice of the batch).")
    var seed: UInt64 = 1
    @Option(help: "Output folder.")
    var out: String = "runs/gdu"

    func run() throws {
        guard let prec = Precision(rawValue: precision) else {
            throw InputError("--precision must be double or float (got '\(precision)')")
        }
        var spec = try modelOptions.resolve()
        var params = Parameters<Double>.initial(spec: spec, seed: seed)
        if let c = checkpoint {
            let ck = try TrainingRun.loadCheckpoint(c)
            try ck.check(fits: spec, path: c)
            params = ck.parameters.converted()
        }
        let B = spec.batchSize
        let x: Matrix<Double>, y: Matrix<Double>
        let ds = dataset ?? (spec.layers[0] == 784 ? "fashion-mnist" : "random")
        if ds == "random" {
            var rng = RandomStream(seed: seed, stream: "gdu-random-batch")
            var xx = Matrix<Double>(rows: B, cols: spec.layers[0])
            for i in 0..<xx.count { xx.storage[i] = rng.uniform() }
            var yy = Matrix<Double>(rows: B, cols: spec.layers.last!)
            for r in 0..<B { yy[r, rng.below(yy.cols)] = 1 }
            x = xx; y = yy
        } else {
            let data = try DataSet.load(ds)
            guard data.train.features == spec.layers[0], data.train.classes == spec.layers.last! else {
                throw InputError(
                    "model '\(spec.name)' has layers \(spec.layers) but '\(ds)' has \(data.train.features) inputs "
                        + "and \(data.train.classes) classes"
                )
            }
            guard B <= data.train.count else {
                throw InputError(
                    "batch_size must be ≤ \(data.train.count), the training examples of '\(ds)' (got \(B))")
            }
            let batcher = Batcher(data.train, batchSize: B)
            let order = batcher.order(epoch: 0, seed: seed)
            (x, y, _) = batcher.batch(order[0..<B], as: Double.self)
        }
        spec.batchSize = B
        try OutputFolder.prepare(out)
        FileHandle.standardError.write(
            Data(
                ("xbar gdu: \(spec.name), β=\(spec.beta), T=\(spec.T), K=\(spec.K), batch \(B) of \(ds), "
                    + "\(prec.rawValue)\n")
                    .utf8))
        let report = GDU.run(spec: spec, parameters: params, x: x, y: y, precision: prec)
        let doc = GDUDocument(report: report, spec: spec, precision: prec, batchSize: B)
        try writeJSON(doc, to: (out as NSString).appendingPathComponent("gdu.json"))
        try AtomicFile.write(doc.svg(), to: (out as NSString).appendingPathComponent("gdu.svg"))
        print("layer  kind      RelMSE     sign agree  cosine   |EP|/|BPTT|")
        for l in doc.layers {
            print(
                l.layer.padding(toLength: 6, withPad: " ", startingAt: 0) + " "
                    + l.kind.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + String(
                        format: " %10.3e  %8.2f%%  %8.4f  %8.3f", l.agreement.relmse, l.agreement.signAgreement,
                        l.agreement.cosine, l.agreement.normRatio ?? .nan))
        }
        print(
            String(
                format: "free-phase residual max|s_T − s_{T−1}| = %.2e; wrote %@/gdu.json and %@/gdu.svg",
                report.freePhaseResidual, out, out))
    }
}
