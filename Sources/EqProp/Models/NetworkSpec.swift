import Foundation
import Yams

/// Bad input the user can fix, in one line that names the field or option and the allowed range.
///
/// Errors about a run's options write each option as `{name}` in `template`, with the library's name
/// for it (the snake_case field of a sweep file, or the parameter): `message` renders it `'name'`,
/// and a front end renders it its own way (`xbar` prints its flag, `--name`), so the library never
/// names a command-line flag.
public struct InputError: Error, LocalizedError, CustomStringConvertible, Equatable {
    /// The text with options as `{name}` (equal to `message` when it names no option).
    public let template: String
    /// Whether `template` holds `{name}` markers.
    public let namesOptions: Bool
    /// An error with a plain message that names no option.
    public init(_ message: String) { template = message; namesOptions = false }
    /// An error naming options as `{name}` (see the type's description).
    public init(options template: String) { self.template = template; namesOptions = true }
    /// The text with every option `{name}` written by `name`.
    public func rendered(option name: (String) -> String) -> String {
        guard namesOptions else { return template }
        var out = "", rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open] + name(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
    /// The text with every option written `'name'`.
    public var message: String { rendered { "'\($0)'" } }
    /// The same as `message`.
    public var description: String { message }
    /// The same as `message`, for `LocalizedError`.
    public var errorDescription: String? { message }
}

/// The two dynamics of the seed paper.
public enum ModelKind: String, Codable, Sendable, CaseIterable {
    /// P: `s ← σ(∂Φ/∂s)` with Φ = Σ sᵀWs + bᵀs (approximate primitive because of σ).
    case prototypical
    /// EB: `s ← s − ε∂E/∂s` on a Hopfield energy; Φ = ½‖s‖² − εE is an exact primitive.
    case energyBased = "energy-based"
    /// P-conv: conv + max-pool layers and a classifier, prototypical dynamics (`ConvNet`).
    case convolutional = "prototypical-conv"
}

/// How the nudged phase is run.
public enum Nudging: String, Codable, Sendable, CaseIterable {
    /// One nudged phase at +β (the seed).
    case oneSided = "one-sided"
    /// One nudged phase at ±β, the sign drawn per batch (Scellier & Bengio 2017).
    case randomSign = "random-sign"
    /// Two nudged phases at +β and −β; update [∂Φ/∂θ(s^{+β}) − ∂Φ/∂θ(s^{−β})]/(2β) (Laborieux 2021).
    case symmetric
}

/// A fully connected network and its training hyperparameters, as stored in `Models/networks/*.yaml`.
///
/// Layers are listed **input → output** (the seed's `size_tab` lists them output → input), and so
/// are the learning rates, one per weight matrix.
public struct NetworkSpec: Codable, Equatable, Sendable {
    /// Preset name (e.g. `p-1h`).
    public var name: String
    /// Which dynamics: prototypical (P), energy-based (EB) or prototypical-conv (P-conv).
    public var kind: ModelKind
    /// Layer sizes, input first, output last. At least input and output.
    public var layers: [Int]
    /// Activation of the state units (σ of the P dynamics, ρ of the EB energy).
    public var activation: Activation
    /// Integration step: ε of the EB model; 1 for the P model (the seed's paper value).
    public var dt: Double
    /// EB only: clip states to [0, 1] after each step (Table 1) or not (GDU figures).
    public var clamp: Bool
    /// EB only: give the output layer the ρ′ factor so the dynamics derive exactly from Φ
    /// (false = the seed code's linear output layer).
    public var exactPrimitive: Bool
    /// Toy model: the input also drives the output layer directly (one extra weight matrix).
    public var inputToOutput: Bool
    /// Free-phase steps.
    public var T: Int
    /// Nudged-phase steps.
    public var K: Int
    /// Nudging strength β of the nudged phase.
    public var beta: Double
    /// How the nudged phase is run: one-sided, random-sign or symmetric.
    public var nudging: Nudging
    /// One per weight matrix, input → output (the skip matrix of the toy model last).
    public var learningRates: [Double]
    /// Examples per minibatch.
    public var batchSize: Int
    /// Training epochs (passes over the training set).
    public var epochs: Int
    /// σ of Gaussian noise added to hidden pre-activations at every step of training (0 = none).
    public var neuronNoise: Double = 0
    /// P-conv only: channels of the input and of each conv layer (e.g. [1, 32, 64]), kernel side,
    /// pooling window (= stride) and input image side. `layers` must then list the state sizes
    /// these imply (input, each pooled map, classes), e.g. [784, 4608, 1024, 10].
    public var channels: [Int] = []
    /// P-conv only: side of the square convolution kernel (pixels).
    public var kernel: Int = 5
    /// P-conv only: max-pooling window, equal to its stride.
    public var pool: Int = 2
    /// P-conv only: side of the square input image (pixels).
    public var image: Int = 28

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, layers, activation, dt, clamp
        case exactPrimitive = "exact_primitive"
        case inputToOutput = "input_to_output"
        case T, K, beta, nudging
        case learningRates = "learning_rates"
        case batchSize = "batch_size"
        case epochs
        case neuronNoise = "neuron_noise"
        case channels, kernel, pool, image
    }

    /// A spec from its fields, with the defaults a preset file gets for the fields it leaves out;
    /// not validated (see `validate()`).
    public init(
        name: String, kind: ModelKind, layers: [Int], activation: Activation, dt: Double = 1,
        clamp: Bool = false, exactPrimitive: Bool = false, inputToOutput: Bool = false,
        T: Int, K: Int, beta: Double, nudging: Nudging = .oneSided,
        learningRates: [Double], batchSize: Int = 20, epochs: Int = 1
    ) {
        self.name = name; self.kind = kind; self.layers = layers; self.activation = activation
        self.dt = dt; self.clamp = clamp; self.exactPrimitive = exactPrimitive
        self.inputToOutput = inputToOutput; self.T = T; self.K = K; self.beta = beta
        self.nudging = nudging; self.learningRates = learningRates; self.batchSize = batchSize
        self.epochs = epochs
    }

    /// Weight matrices as (from layer, to layer), layer 0 = input. Order = learning-rate order.
    public var connections: [(from: Int, to: Int)] {
        var c = (1..<layers.count).map { (from: $0 - 1, to: $0) }
        if inputToOutput && layers.count > 2 { c.append((from: 0, to: layers.count - 1)) }
        return c
    }

    /// The conv geometry of a P-conv model (nil for the fully connected kinds).
    public var convGeometry: ConvGeometry? {
        kind == .convolutional
            ? ConvGeometry(image: image, kernel: kernel, pool: pool, channels: channels, classes: layers.last ?? 0)
            : nil
    }

    /// Shape (rows = outputs, cols = inputs) of each weight matrix, in connection order.
    public var weightShapes: [(rows: Int, cols: Int)] {
        convGeometry?.weightShapes ?? connections.map { (layers[$0.to], layers[$0.from]) }
    }

    /// Length of each layer's bias (per unit; per channel for conv layers), layers 1…L.
    public var biasSizes: [Int] { convGeometry?.biasSizes ?? Array(layers.dropFirst()) }

    /// Fan-in of each weight matrix's units (the U(±1/√fan_in) init bound), and of each bias.
    public var fanIns: [Int] { weightShapes.map(\.cols) }

    /// Upper bounds that catch typos before they allocate or run for days: a layer of 10^8 units would
    /// ask for hundreds of GB, and 10^6 steps of P-1h take hours per batch.
    public static let maxLayerSize = 1 << 20, maxSteps = 100_000, maxWeights = 1 << 28
    /// Largest batch (a batch's states are B × n matrices) and epoch count accepted.
    public static let maxBatchSize = 1 << 16, maxEpochs = 100_000

    /// Checks every field; throws a one-line error naming the field and the allowed range.
    public func validate() throws {
        func fail(_ field: String, _ rule: String, _ got: Any) throws -> Never {
            throw InputError("model '\(name)': field '\(field)' must be \(rule) (got \(got))")
        }
        if layers.count < 2 { try fail("layers", "a list of at least 2 sizes, input first", layers) }
        if let bad = layers.first(where: { $0 < 1 || $0 > Self.maxLayerSize }) {
            try fail("layers", "sizes in 1…\(Self.maxLayerSize)", bad)
        }
        let weights = connections.reduce(0) { $0 + layers[$1.from] * layers[$1.to] }
        if weights > Self.maxWeights {
            try fail(
                "layers",
                "sizes with at most \(Self.maxWeights) weights in total (\(Self.maxWeights / (1 << 18)) MiB per copy)",
                "\(layers): \(weights) weights")
        }
        if T < 1 || T > Self.maxSteps { try fail("T", "an integer in 1…\(Self.maxSteps)", T) }
        if K < 1 || K > Self.maxSteps { try fail("K", "an integer in 1…\(Self.maxSteps)", K) }
        // The EP update divides by β in Float: below 1e-20 it overflows, above 1e6 it is no nudge.
        if !(beta.isFinite && beta >= 1e-20 && beta <= 1e6) { try fail("beta", "a number in [1e-20, 1e6]", beta) }
        if !(dt.isFinite && dt > 0 && dt <= 1) { try fail("dt", "in (0, 1]", dt) }
        let n = connections.count
        if learningRates.count != n {
            try fail("learning_rates", "a list of \(n) rates, one per weight matrix input → output", learningRates)
        }
        if let bad = learningRates.first(where: { !($0.isFinite && $0 >= 0) }) {
            try fail("learning_rates", "numbers ≥ 0", bad)
        }
        if batchSize < 1 || batchSize > Self.maxBatchSize {
            try fail("batch_size", "an integer in 1…\(Self.maxBatchSize)", batchSize)
        }
        if !(neuronNoise.isFinite && neuronNoise >= 0) { try fail("neuron_noise", "≥ 0", neuronNoise) }
        if epochs < 0 || epochs > Self.maxEpochs { try fail("epochs", "an integer in 0…\(Self.maxEpochs)", epochs) }
        if kind == .prototypical && clamp {
            try fail("clamp", "false for a prototypical model (clamping is an EB option)", clamp)
        }
        if kind != .energyBased && exactPrimitive {
            try fail("exact_primitive", "false unless the model is energy-based", exactPrimitive)
        }
        if inputToOutput && layers.count < 3 {
            try fail("input_to_output", "false unless there is a hidden layer", inputToOutput)
        }
        if let g = convGeometry {
            if let why = g.problem {
                try fail(
                    "channels", "a valid conv stack (\(why))",
                    "channels \(channels), kernel \(kernel), pool \(pool), image \(image)")
            }
            if layers != g.layers {
                try fail("layers", "the state sizes the conv geometry implies, \(g.layers)", layers)
            }
            if activation != .hardsigm {
                try fail("activation", "hardsigm for a prototypical-conv model", activation.rawValue)
            }
            if dt != 1 { try fail("dt", "1 for a prototypical-conv model", dt) }
            if neuronNoise != 0 {
                try fail("neuron_noise", "0 for a prototypical-conv model (not supported)", neuronNoise)
            }
        } else if !channels.isEmpty {
            try fail("channels", "empty unless kind is prototypical-conv", channels)
        }
    }

    /// Loads a preset by name (`Models/networks/NAME.yaml`) or a YAML file by path.
    public static func load(_ nameOrPath: String) throws -> NetworkSpec {
        let url = try PresetLocator.resolve(nameOrPath, kind: "networks")
        return try decode(yaml: PresetYAML.read(url), source: url.lastPathComponent)
    }

    /// Decodes YAML text, rejecting unknown and missing keys with a message naming them.
    public static func decode(yaml: String, source: String) throws -> NetworkSpec {
        var filled = try PresetYAML.mapping(yaml, source: source, known: Set(CodingKeys.allCases.map(\.rawValue)))
        // Optional fields and their defaults.
        let defaults: [String: Any] = [
            "clamp": false, "exact_primitive": false, "input_to_output": false, "dt": 1.0,
            "nudging": "one-sided", "batch_size": 20, "epochs": 1, "neuron_noise": 0.0,
            "channels": [Int](), "kernel": 5, "pool": 2, "image": 28
        ]
        for (k, v) in defaults where filled[k] == nil { filled[k] = v }
        for k in CodingKeys.allCases.map(\.rawValue) where filled[k] == nil {
            throw InputError("\(source): missing field '\(k)'")
        }
        let choices = [
            "kind": ModelKind.allCases.map(\.rawValue), "activation": Activation.allCases.map(\.rawValue),
            "nudging": Nudging.allCases.map(\.rawValue)
        ]
        return try PresetYAML.decode(
            NetworkSpec.self, from: Yams.dump(object: filled), source: source, choices: choices
        ) { try $0.validate() }
    }

    /// The spec as YAML (used in checkpoints and run directories).
    public func yaml() -> String { (try? YAMLEncoder().encode(self)) ?? "" }
}

/// Finds preset files: an explicit path, `$XBAR_MODELS_DIR/<kind>/`, or the presets shipped with the
/// library (a package resource: `EqPropCrossbar_EqProp.resources` beside an executable built with it).
public enum PresetLocator {
    /// Where presets of `kind` (networks, devices, sweeps) are looked up by name: `$XBAR_MODELS_DIR/<kind>`
    /// if set, then the presets shipped with the library (the repository's `Models/`, a package
    /// resource), so a name resolves the same from any folder and in packages that use the library.
    public static func searchDirectories(kind: String) -> [URL] {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["XBAR_MODELS_DIR"], !env.isEmpty {
            dirs.append(URL(fileURLWithPath: env).appendingPathComponent(kind))
        }
        if let shipped = shippedPresets { dirs.append(shipped.appendingPathComponent(kind)) }
        return dirs
    }

    /// The presets resource of this library: `<package>_EqProp.resources/Presets` beside the executable
    /// (SwiftPM names the bundle after the root package, so it is found by its suffix; unlike
    /// `Bundle.module`, a missing bundle is reported as missing presets instead of stopping the program).
    static let shippedPresets: URL? = {
        let fm = FileManager.default
        let places = [Bundle.main.executableURL?.deletingLastPathComponent(), Bundle.main.bundleURL].compactMap { $0 }
        for dir in places {
            let names = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            for n in names.sorted() where n.hasSuffix("_EqProp.resources") {
                let u = dir.appendingPathComponent(n).appendingPathComponent("Presets")
                if fm.fileExists(atPath: u.path) { return u }
            }
        }
        return nil
    }()

    /// Names of the presets of `kind` in the search directories, sorted.
    public static func available(kind: String) -> [String] {
        var names = Set<String>()
        for d in searchDirectories(kind: kind) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? []
            for f in files where f.hasSuffix(".yaml") { names.insert(String(f.dropLast(5))) }
        }
        return names.sorted()
    }

    /// The file of a preset: `nameOrPath` itself if it is a path (has `/` or ends in `.yaml`/`.yml`),
    /// else NAME.yaml in the first search directory that has it.
    public static func resolve(_ nameOrPath: String, kind: String) throws -> URL {
        let fm = FileManager.default
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") {
            guard fm.fileExists(atPath: nameOrPath) else {
                throw InputError("preset file '\(nameOrPath)' does not exist")
            }
            return URL(fileURLWithPath: nameOrPath)
        }
        for d in searchDirectories(kind: kind) {
            let u = d.appendingPathComponent(nameOrPath + ".yaml")
            if fm.fileExists(atPath: u.path) { return u }
        }
        let names = available(kind: kind)
        let listed =
            names.isEmpty
            ? "none found; set XBAR_MODELS_DIR to the repository's Models folder" : names.joined(separator: ", ")
        throw InputError(
            "unknown \(kind == "networks" ? "model" : kind == "sweeps" ? "sweep" : "device") preset '\(nameOrPath)' "
                + "(available: \(listed))"
        )
    }
}
