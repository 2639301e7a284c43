import ArgumentParser
import EqProp
import EqPropRuns

/// A preset plus per-field overrides: every field of a network file can be set from the command line.
struct ModelOptions: ParsableArguments {
    @Option(help: "Network preset name (Models/networks/NAME.yaml) or path to a YAML file (default: p-1h).")
    var model: String?

    @Option(help: "Layer sizes input → output, comma-separated (e.g. 784,512,10).")
    var layers: String?
    @Option(help: "Activation: sigm | hardsigm | tanh | identity.")
    var activation: String?
    @Option(parsing: .unconditional, help: "Integration step (ε of the EB model; 1 for P), in (0, 1].")
    var dt: Double?
    @Option(name: .customLong("T"), parsing: .unconditional, help: "Free-phase steps (≥ 1).")
    var T: Int?
    @Option(name: .customLong("K"), parsing: .unconditional, help: "Nudged-phase steps (≥ 1).")
    var K: Int?
    @Option(parsing: .unconditional, help: "Nudging strength β (> 0).")
    var beta: Double?
    @Option(help: "Nudging: one-sided | random-sign | symmetric.")
    var nudging: String?
    @Option(parsing: .unconditional, help: "Learning rates, one per weight matrix input → output, comma-separated.")
    var lr: String?
    @Option(parsing: .unconditional, help: "Mini-batch size (≥ 1).")
    var batchSize: Int?
    @Option(parsing: .unconditional, help: "Number of epochs (≥ 0).")
    var epochs: Int?
    @Option(
        parsing: .unconditional, help: "σ of Gaussian noise on hidden pre-activations at every training step (≥ 0).")
    var neuronNoise: Double?
    @Option(help: "EB only: clamp states to [0,1] (true/false).")
    var clamp: Bool?
    @Option(help: "EB only: ρ′ factor on the output layer so Φ is an exact primitive (true/false).")
    var exactPrimitive: Bool?

    static func list<T>(_ s: String, field: String, _ parse: (String) -> T?) throws -> [T] {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var out: [T] = []
        for p in parts {
            if p.isEmpty { throw InputError("--\(field): empty value in '\(s)'") }
            guard let v = parse(p) else { throw InputError("--\(field): '\(p)' is not a valid number in '\(s)'") }
            out.append(v)
        }
        if out.isEmpty { throw InputError("--\(field): empty list") }
        return out
    }

    /// The options given on the command line other than --epochs (which a resumed run may extend).
    var givenExceptEpochs: [String] {
        let all: [(String, Any?)] = [
            ("--model", model), ("--layers", layers), ("--activation", activation), ("--dt", dt), ("--T", T),
            ("--K", K), ("--beta", beta), ("--nudging", nudging), ("--lr", lr), ("--batch-size", batchSize),
            ("--neuron-noise", neuronNoise), ("--clamp", clamp), ("--exact-primitive", exactPrimitive)
        ]
        return all.compactMap { $0.1 == nil ? nil : $0.0 }
    }

    /// The preset with every given override applied, validated.
    func resolve() throws -> NetworkSpec {
        var s = try NetworkSpec.load(model ?? "p-1h")
        if let v = layers { s.layers = try Self.list(v, field: "layers") { Int($0) } }
        if let v = activation {
            guard let a = Activation(rawValue: v) else {
                throw InputError(
                    "--activation must be one of \(Activation.allCases.map(\.rawValue).joined(separator: ", ")) (got "
                        + "'\(v)')"
                )
            }
            s.activation = a
        }
        if let v = dt { s.dt = v }
        if let v = T { s.T = v }
        if let v = K { s.K = v }
        if let v = beta { s.beta = v }
        if let v = nudging {
            guard let n = Nudging(rawValue: v) else {
                throw InputError(
                    "--nudging must be one of \(Nudging.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(v)')")
            }
            s.nudging = n
        }
        if let v = lr { s.learningRates = try Self.list(v, field: "lr") { Double($0) } }
        if let v = batchSize { s.batchSize = v }
        if let v = epochs { s.epochs = v }
        if let v = clamp { s.clamp = v }
        if let v = neuronNoise { s.neuronNoise = v }
        if let v = exactPrimitive { s.exactPrimitive = v }
        try s.validate()
        return s
    }
}
