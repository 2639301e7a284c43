import Foundation
import Yams

/// Pulse response of one memristive device. Conductance is handled in normalized units
/// u = (G − G_min)/(G_max − G_min) ∈ [0, 1]; presets give G_min, G_max in siemens for reference.
public enum DeviceModel: String, Codable, Sendable, CaseIterable {
    /// Continuous, noiseless, unbounded: the control that reproduces the software engine exactly.
    case ideal
    /// aihwkit LinearStep: up Δu = s⁺(1 − γ⁺u), down Δu = −s⁻(1 − γ⁻(1 − u)); γ = 0 is ConstantStep.
    case linearStep = "linear-step"
    /// aihwkit SoftBounds: LinearStep with γ⁺ = γ⁻ = 1 (the step vanishes at the bounds).
    case softBounds = "soft-bounds"
    /// NeuroSim exponential LTP/LTD: G(P) = B(1 − e^{−P/A}) + G_min, A solved from the NL label.
    case exponential
}

public enum Rounding: String, Codable, Sendable, CaseIterable { case nearest, stochastic }
public enum Programming: String, Codable, Sendable, CaseIterable {
    /// n = round(ΔG/ΔG_step) pulses per device, capped by `max_pulses`.
    case deterministic
    /// aihwkit-style stochastic pulse trains of length `bl` whose coincidences give E[ΔW] = requested.
    case stochastic
}
/// How a weight maps onto devices.
public enum Mapping: String, Codable, Sendable, CaseIterable {
    /// Two devices per weight: W = w_fs·(u⁺ − u⁻); updates push–pull on the pair.
    case differential
    /// One device per weight against a reference device held at mid-range: W = 2·w_fs·(u − ½).
    case reference
}

public enum UpdatePasses: String, Codable, Sendable, CaseIterable {
    /// The contrastive EP update as two programming passes (nudged +, free −).
    case two
    /// One pass of the difference, computed in the periphery.
    case one
}

/// A device preset (`Models/devices/*.yaml`): the device, its variability and faults, the read path,
/// and how updates are programmed. Field names follow aihwkit where it has one (`dw_min`, `up_down`,
/// `dw_min_std`, `*_dtod`, `gamma_up/down`, `write_noise_std`) and NeuroSim otherwise (`nl_ltp`,
/// `nl_ltd`, `pulses`, `c2c`). Every field has a default, so a preset lists only what it changes.
public struct DeviceSpec: Codable, Equatable, Sendable {
    public var name = "custom"
    /// Citation of the numbers, and which of them are measured and which assumed.
    public var source = ""
    public var measured: [String] = []
    public var assumed: [String] = []

    public var model: DeviceModel = .ideal
    /// Conductance range (S), for reference and plots; the simulation works in normalized units.
    public var gMin = 1e-6
    public var gMax = 1e-4
    /// Full-scale weight in units of the layer's initialization bound 1/√fan_in: a differential pair
    /// holds W = w_max/√fan_in · (u⁺ − u⁻), so |W| ≤ w_max/√fan_in.
    public var wMax = 4.0
    public var mapping: Mapping = .differential

    // Step models (aihwkit), in units of the conductance range.
    public var dwMin = 0.01
    public var upDown = 0.0
    public var dwMinDtod = 0.0
    public var upDownDtod = 0.0
    /// Cycle-to-cycle noise of one pulse, in units of its step (aihwkit: Δ·(1 + dw_min_std·ξ)).
    public var dwMinStd = 0.0
    public var gammaUp = 0.0
    public var gammaDown = 0.0
    public var gammaDtod = 0.0
    /// Write noise (aihwkit): the read sees u + write_noise_std·dw_min·ξ, redrawn when the device is pulsed.
    public var writeNoiseStd = 0.0

    // Exponential model (NeuroSim).
    /// Pulses from G_min to G_max (NeuroSim's "levels", P_max).
    public var pulses = 100
    public var nlLtp = 1.0
    public var nlLtd = -1.0
    /// Device-to-device σ of the NL label.
    public var nlDtod = 0.0
    /// Cycle-to-cycle σ per pulse as a fraction of the range; n pulses give σ·√n (NeuroSim).
    public var c2c = 0.0

    /// Number of distinct conductance states (0 = continuous).
    public var levels = 0
    public var rounding: Rounding = .stochastic
    /// Fractions of devices stuck at G_min and at G_max.
    public var stuckMin = 0.0
    public var stuckMax = 0.0

    // Read path.
    public var dacBits = 0
    public var dacBound = 1.0
    public var adcBits = 0
    public var adcBound = 12.0
    /// White read noise σ, in output (weight × input) units, per read.
    public var whiteNoise = 0.0
    /// Flicker noise K of S(f) = K/f^γ, relative to G (multiplicative); γ = 0 gives white noise of the
    /// same multiplicative form (for comparisons at equal variance).
    public var flickerK = 0.0
    public var flickerGamma = 1.0
    /// Random telegraph noise: relative amplitude and dwell times (s).
    public var rtnAmplitude = 0.0
    public var rtnTau0 = 1e-4
    public var rtnTau1 = 1e-4
    /// Samples per synthesized noise trace (a power of two); half of each trace is used, so the
    /// lowest frequency present is 1/(noise_length·t_step).
    public var noiseLength = 4096
    /// Simulated time per dynamics step, and between the free and the nudged phase (s).
    public var tStep = 1e-6
    public var phaseGap = 1e-6

    // Programming.
    public var programming: Programming = .stochastic
    /// Pulse-train length of stochastic programming.
    public var bl = 31
    /// Largest number of pulses one device receives in one update.
    public var maxPulses = 100
    public var passes: UpdatePasses = .two

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, source, measured, assumed, model
        case gMin = "g_min", gMax = "g_max", wMax = "w_max", mapping
        case dwMin = "dw_min", upDown = "up_down", dwMinDtod = "dw_min_dtod", upDownDtod = "up_down_dtod"
        case dwMinStd = "dw_min_std", gammaUp = "gamma_up", gammaDown = "gamma_down", gammaDtod = "gamma_dtod"
        case writeNoiseStd = "write_noise_std"
        case pulses, nlLtp = "nl_ltp", nlLtd = "nl_ltd", nlDtod = "nl_dtod", c2c
        case levels, rounding, stuckMin = "stuck_min", stuckMax = "stuck_max"
        case dacBits = "dac_bits", dacBound = "dac_bound", adcBits = "adc_bits", adcBound = "adc_bound"
        case whiteNoise = "white_noise", flickerK = "flicker_k", flickerGamma = "flicker_gamma"
        case rtnAmplitude = "rtn_amplitude", rtnTau0 = "rtn_tau0", rtnTau1 = "rtn_tau1"
        case noiseLength = "noise_length", tStep = "t_step", phaseGap = "phase_gap"
        case programming, bl, maxPulses = "max_pulses", passes
    }

    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Every field is optional in a file: missing ones keep their defaults.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<V: Decodable>(_ k: CodingKeys, _ v: inout V) throws { if let x = try c.decodeIfPresent(V.self, forKey: k) { v = x } }
        try get(.name, &name); try get(.source, &source); try get(.measured, &measured); try get(.assumed, &assumed)
        try get(.model, &model); try get(.gMin, &gMin); try get(.gMax, &gMax); try get(.wMax, &wMax); try get(.mapping, &mapping)
        try get(.dwMin, &dwMin); try get(.upDown, &upDown); try get(.dwMinDtod, &dwMinDtod); try get(.upDownDtod, &upDownDtod)
        try get(.dwMinStd, &dwMinStd); try get(.gammaUp, &gammaUp); try get(.gammaDown, &gammaDown); try get(.gammaDtod, &gammaDtod)
        try get(.writeNoiseStd, &writeNoiseStd)
        try get(.pulses, &pulses); try get(.nlLtp, &nlLtp); try get(.nlLtd, &nlLtd); try get(.nlDtod, &nlDtod); try get(.c2c, &c2c)
        try get(.levels, &levels); try get(.rounding, &rounding); try get(.stuckMin, &stuckMin); try get(.stuckMax, &stuckMax)
        try get(.dacBits, &dacBits); try get(.dacBound, &dacBound); try get(.adcBits, &adcBits); try get(.adcBound, &adcBound)
        try get(.whiteNoise, &whiteNoise); try get(.flickerK, &flickerK); try get(.flickerGamma, &flickerGamma)
        try get(.rtnAmplitude, &rtnAmplitude); try get(.rtnTau0, &rtnTau0); try get(.rtnTau1, &rtnTau1)
        try get(.noiseLength, &noiseLength); try get(.tStep, &tStep); try get(.phaseGap, &phaseGap)
        try get(.programming, &programming); try get(.bl, &bl); try get(.maxPulses, &maxPulses); try get(.passes, &passes)
    }

    /// Checks every field; the error names the field and the allowed range.
    public func validate() throws {
        func fail(_ f: String, _ rule: String, _ got: Any) throws -> Never {
            throw InputError("device '\(name)': field '\(f)' must be \(rule) (got \(got))")
        }
        func nonNegative(_ f: String, _ v: Double) throws { if !(v.isFinite && v >= 0) { try fail(f, "≥ 0", v) } }
        func fraction(_ f: String, _ v: Double) throws { if !(v.isFinite && v >= 0 && v <= 1) { try fail(f, "in [0, 1]", v) } }
        if !(gMin.isFinite && gMin >= 0) { try fail("g_min", "≥ 0", gMin) }
        if !(gMax.isFinite && gMax > gMin) { try fail("g_max", "greater than g_min (\(gMin))", gMax) }
        if !(wMax.isFinite && wMax > 0) { try fail("w_max", "> 0", wMax) }
        if !(dwMin.isFinite && dwMin > 0 && dwMin <= 1) { try fail("dw_min", "in (0, 1] (a fraction of the conductance range)", dwMin) }
        if !(upDown.isFinite && abs(upDown) < 1) { try fail("up_down", "in (−1, 1)", upDown) }
        for (f, v) in [("dw_min_dtod", dwMinDtod), ("up_down_dtod", upDownDtod), ("dw_min_std", dwMinStd), ("gamma_dtod", gammaDtod),
                       ("write_noise_std", writeNoiseStd), ("nl_dtod", nlDtod), ("c2c", c2c),
                       ("white_noise", whiteNoise), ("flicker_k", flickerK), ("rtn_amplitude", rtnAmplitude)] {
            try nonNegative(f, v)
        }
        for (f, v) in [("gamma_up", gammaUp), ("gamma_down", gammaDown)] where !(v.isFinite && v >= 0 && v <= 1) {
            try fail(f, "in [0, 1]", v)
        }
        if pulses < 1 { try fail("pulses", "an integer ≥ 1", pulses) }
        for (f, v) in [("nl_ltp", nlLtp), ("nl_ltd", nlLtd)] where !(v.isFinite && abs(v) < NonlinearityLabel.labelScale) {
            try fail(f, "a label with |NL| < \(NonlinearityLabel.labelScale) (0 = linear)", v)
        }
        if levels == 1 || levels < 0 { try fail("levels", "0 (continuous) or an integer ≥ 2", levels) }
        try fraction("stuck_min", stuckMin); try fraction("stuck_max", stuckMax)
        if stuckMin + stuckMax > 1 { try fail("stuck_max", "at most 1 − stuck_min", stuckMax) }
        for (f, v) in [("dac_bits", dacBits), ("adc_bits", adcBits)] where v != 0 && !(2...24).contains(v) {
            try fail(f, "0 (off) or in 2…24", v)
        }
        for (f, v) in [("dac_bound", dacBound), ("adc_bound", adcBound)] where !(v.isFinite && v > 0) { try fail(f, "> 0", v) }
        if !(flickerGamma.isFinite && flickerGamma >= 0 && flickerGamma <= 2) { try fail("flicker_gamma", "in [0, 2] (0 = white)", flickerGamma) }
        for (f, v) in [("rtn_tau0", rtnTau0), ("rtn_tau1", rtnTau1), ("t_step", tStep)] where !(v.isFinite && v > 0) { try fail(f, "> 0", v) }
        if !(phaseGap.isFinite && phaseGap >= 0) { try fail("phase_gap", "≥ 0", phaseGap) }
        if noiseLength < 64 || noiseLength > 1 << 20 || noiseLength & (noiseLength - 1) != 0 {
            try fail("noise_length", "a power of two in 64…1048576", noiseLength)
        }
        if !(1...64).contains(bl) { try fail("bl", "in 1…64", bl) }
        if maxPulses < 1 { try fail("max_pulses", "an integer ≥ 1", maxPulses) }
    }

    public static func load(_ nameOrPath: String) throws -> DeviceSpec {
        let url = try PresetLocator.resolve(nameOrPath, kind: "devices")
        return try decode(yaml: PresetYAML.read(url), source: url.lastPathComponent)
    }

    /// Allowed values of the fields that take a name.
    static let choices: [String: [String]] = [
        "model": DeviceModel.allCases.map(\.rawValue), "rounding": Rounding.allCases.map(\.rawValue),
        "programming": Programming.allCases.map(\.rawValue), "mapping": Mapping.allCases.map(\.rawValue),
        "passes": UpdatePasses.allCases.map(\.rawValue),
    ]

    /// Decodes a device file. Every field but `model` has a default (the ideal device's); `model` is
    /// required, since without it every pulse parameter of the file would be silently ignored.
    public static func decode(yaml: String, source: String) throws -> DeviceSpec {
        let dict = try PresetYAML.mapping(yaml, source: source, known: Set(fieldNames))
        if dict["model"] == nil {
            throw InputError("\(source): missing field 'model' (one of \(choices["model"]!.joined(separator: ", ")))")
        }
        return try PresetYAML.decode(DeviceSpec.self, from: yaml, source: source, choices: choices) { try $0.validate() }
    }

    /// Sets one field from text (`--device.FIELD VALUE`), through the same decoder and validation.
    public func setting(_ field: String, to value: String) throws -> DeviceSpec {
        guard Self.fieldNames.contains(field) else {
            throw InputError("unknown device field '\(field)' (known: \(Self.fieldNames.joined(separator: ", ")))")
        }
        var text = (try? YAMLEncoder().encode(self)) ?? ""
        text += "\n"
        var dict = (try Yams.load(yaml: text) as? [String: Any]) ?? [:]
        dict[field] = try Yams.load(yaml: value)
        return try Self.decode(yaml: try Yams.dump(object: dict), source: "--device.\(field)")
    }
}

/// NeuroSim's nonlinearity label ↔ the A of G(P) = B(1 − e^{−P/A}) + G_min.
///
/// On the normalized curve f(x) = (1 − e^{−x/a})/(1 − e^{−1/a}), x = P/P_max, a = A/P_max, the label is
/// NL = c·max_x (f(x) − x) with c = 10.1 (NeuroSim's manual: "NL ≈ 10.1 × the largest deviation from
/// linear"). The maximizer solves f′(x) = 1: x* = −a·ln(a(1 − e^{−1/a})). D(a) = f(x*) − x* falls
/// strictly from 1 to 0 as a grows, so A is found by bisection on ln a, not read from a table.
public enum NonlinearityLabel {
    public static let labelScale = 10.1

    /// Largest deviation of the normalized curve from the straight line, for A/P_max = a.
    public static func deviation(a: Double) -> Double {
        let d = -expm1(-1 / a)                    // 1 − e^{−1/a}
        let x = min(max(-a * log(a * d), 0), 1)
        return -expm1(-x / a) / d - x
    }

    /// A/P_max for a label (sign ignored); +∞ for NL = 0 (linear device).
    public static func normalizedA(label nl: Double) -> Double {
        let target = abs(nl) / labelScale
        if target == 0 { return .infinity }
        precondition(target < 1, "|NL| must be < \(labelScale)")
        var lo = log(1e-6), hi = log(1e8)         // D(lo) > target > D(hi)
        for _ in 0..<64 {   // the bracket (width 32 in ln a) shrinks to ~2e-18
            let mid = (lo + hi) / 2
            if deviation(a: exp(mid)) > target { lo = mid } else { hi = mid }
        }
        return exp((lo + hi) / 2)
    }
}
