import Foundation

/// A device preset (`Models/devices/*.yaml`), composed like aihwkit's `RPUConfig`: the device
/// (`device:` — law, range, variability, faults, storage), the read periphery of forward reads
/// (`forward:` — converters, read noise and simulated time), optionally a different one for transposed
/// reads (`backward:`; without it `forward:` serves both directions), and how updates are programmed
/// (`update:`). Field names follow aihwkit where it has one (`dw_min`, `up_down`, `dw_min_std`,
/// `*_dtod`, `gamma_up/down`, `write_noise_std`, `bl`) and NeuroSim otherwise (`nl_ltp`, `nl_ltd`,
/// `pulses`, `c2c`). Every field has a default, so a preset lists only what it changes.
///
/// Every field name but those of `backward:` is unique across the sections, so a field can also be
/// named without its section (`--device.levels` is `--device.device.levels`; `--device.white_noise` is
/// `--device.forward.white_noise`), and read and written as a property of the spec (`spec.levels` is
/// `spec.device.levels`).
@dynamicMemberLookup
public struct DeviceSpec: Codable, Equatable, Sendable {
    /// Preset name (`custom` for a spec built in code).
    public var name = "custom"
    /// Citation of the numbers, and which of them are measured and which assumed.
    public var source = ""
    /// Fields whose values are measured on the device cited in `source`.
    public var measured: [String] = []
    /// Fields whose values are assumed rather than measured.
    public var assumed: [String] = []
    /// The `device:` section: pulse-response law, range, mapping, variability, faults and grid.
    public var device = DeviceParameters()
    /// The `forward:` section: read periphery (converters, read noise) and simulated time; it also serves transposed
    /// reads unless `backward` is set.
    public var forward = IOParameters()
    /// The `backward:` section: the periphery of transposed reads (Wᵀ·y); nil when `forward` serves both.
    public var backward: IOParameters?
    /// The `update:` section: how a weight update is programmed as device pulses.
    public var update = UpdateParameters()

    /// The ideal device: every field at its default.
    public init() {}

    /// Reads or writes a `device:` field without naming its section (`spec.levels`).
    public subscript<V>(dynamicMember path: WritableKeyPath<DeviceParameters, V>) -> V {
        get { device[keyPath: path] }
        set { device[keyPath: path] = newValue }
    }
    /// Reads or writes a `forward:` field without naming its section (`spec.adcBits`).
    public subscript<V>(dynamicMember path: WritableKeyPath<IOParameters, V>) -> V {
        get { forward[keyPath: path] }
        set { forward[keyPath: path] = newValue }
    }
    /// Reads or writes an `update:` field without naming its section (`spec.bl`).
    public subscript<V>(dynamicMember path: WritableKeyPath<UpdateParameters, V>) -> V {
        get { update[keyPath: path] }
        set { update[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, source, measured, assumed, device, forward, backward, update
    }

    /// The sections and their fields, in file order.
    public static let sections: [(name: String, fields: [String])] = [
        ("device", DeviceParameters.CodingKeys.allCases.map(\.rawValue)),
        ("forward", IOParameters.CodingKeys.allCases.map(\.rawValue)),
        ("backward", IOParameters.CodingKeys.allCases.map(\.rawValue)),
        ("update", UpdateParameters.CodingKeys.allCases.map(\.rawValue))
    ]

    /// The section of a field given without one (nil if no section has it); read-path fields name
    /// `forward`.
    public static func section(of field: String) -> String? { sections.first { $0.fields.contains(field) }?.name }

    /// Every settable field as SECTION.FIELD.
    public static var fieldNames: [String] { sections.flatMap { s in s.fields.map { s.name + "." + $0 } } }

    /// Sections missing from the input keep their defaults. A flat input (every field at the top
    /// level, as checkpoints written before the sections existed) is read too.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? name
        source = try c.decodeIfPresent(String.self, forKey: .source) ?? source
        measured = try c.decodeIfPresent([String].self, forKey: .measured) ?? []
        assumed = try c.decodeIfPresent([String].self, forKey: .assumed) ?? []
        let nested = c.contains(.device) || c.contains(.forward) || c.contains(.backward) || c.contains(.update)
        device =
            nested
            ? try c.decodeIfPresent(DeviceParameters.self, forKey: .device) ?? .init()
            : try DeviceParameters(from: decoder)
        forward =
            nested
            ? try c.decodeIfPresent(IOParameters.self, forKey: .forward) ?? .init() : try IOParameters(from: decoder)
        update =
            nested
            ? try c.decodeIfPresent(UpdateParameters.self, forKey: .update) ?? .init()
            : try UpdateParameters(from: decoder)
        backward = try c.decodeIfPresent(IOParameters.self, forKey: .backward)
    }
}

/// `device:` — the device: its pulse-response law, conductance range and mapping, variability
/// (device-to-device and cycle-to-cycle), faults and conductance grid. Conductance is handled in
/// normalized units u = (G − G_min)/(G_max − G_min) ∈ [0, 1]; G_min, G_max in siemens are for reference.
public struct DeviceParameters: Codable, Equatable, Sendable {
    /// Pulse-response law (`model`); `ideal` stores the weights exactly.
    public var model: DeviceModel = .ideal
    /// Conductance range (S), for reference and plots; the simulation works in normalized units.
    public var gMin = 1e-6
    /// Largest conductance G_max (S), for reference and plots (`g_max`).
    public var gMax = 1e-4
    /// Full-scale weight in units of the layer's initialization bound 1/√fan_in: a differential pair
    /// holds W = w_max/√fan_in · (u⁺ − u⁻), so |W| ≤ w_max/√fan_in.
    public var wMax = 4.0
    /// How a weight maps onto devices: a differential pair or one device against a reference.
    public var mapping: Mapping = .differential
    // Step laws (aihwkit), in units of the conductance range.
    /// Mean step of one pulse, fraction of the conductance range (aihwkit `dw_min`).
    public var dwMin = 0.01
    /// Up/down asymmetry: s⁺ ∝ 1 + up_down, s⁻ ∝ 1 − up_down (aihwkit `up_down`).
    public var upDown = 0.0
    /// Device-to-device σ of the step, relative to `dw_min` (aihwkit `dw_min_dtod`).
    public var dwMinDtod = 0.0
    /// Device-to-device σ of `up_down` (aihwkit `up_down_dtod`).
    public var upDownDtod = 0.0
    /// Cycle-to-cycle noise of one pulse, in units of its step (aihwkit: Δ·(1 + dw_min_std·ξ)).
    public var dwMinStd = 0.0
    /// Soft-bound slope γ⁺ of potentiation, Δu = s⁺(1 − γ⁺u), in [0, 1]; 0 = constant step.
    public var gammaUp = 0.0
    /// Soft-bound slope γ⁻ of depression, Δu = −s⁻(1 − γ⁻(1 − u)), in [0, 1].
    public var gammaDown = 0.0
    /// Device-to-device σ of γ⁺ and γ⁻ (draws clipped to [0, 1]).
    public var gammaDtod = 0.0
    /// Write noise (aihwkit): the read sees u + write_noise_std·dw_min·ξ, redrawn when the device is pulsed.
    public var writeNoiseStd = 0.0
    // Exponential law (NeuroSim).
    /// Pulses from G_min to G_max (NeuroSim's "levels", P_max).
    public var pulses = 100
    /// NeuroSim nonlinearity label NL of potentiation (0 = linear, |NL| < 10.1).
    public var nlLtp = 1.0
    /// NeuroSim nonlinearity label NL of depression (only |NL| is used; 0 = linear).
    public var nlLtd = -1.0
    /// Device-to-device σ of the NL label.
    public var nlDtod = 0.0
    /// Cycle-to-cycle σ per pulse as a fraction of the range; n pulses give σ·√n (NeuroSim).
    public var c2c = 0.0
    // aihwkit's devices (`aihwkit-*` models): parameters in aihwkit's weight units (see `WeightUnits`);
    // `dw_min`, `up_down`, `dw_min_dtod`, `up_down_dtod`, `dw_min_std`, `gamma_up/down` and
    // `write_noise_std` keep their aihwkit meaning, with dw_min in weight units.
    /// Mean lower bound w_min ≤ 0 of a device's weight (aihwkit `w_min`): u = 0.
    public var weightMin = -0.6
    /// Mean upper bound w_max ≥ 0 of a device's weight (aihwkit `w_max`): u = 1.
    public var weightMax = 0.6
    /// Device-to-device σ of the lower bound, relative: b_min = w_min(1 + σξ) (aihwkit `w_min_dtod`).
    public var weightMinDtod = 0.0
    /// Device-to-device σ of the upper bound, relative (aihwkit `w_max_dtod`).
    public var weightMaxDtod = 0.0
    /// Absolute device-to-device σ of γ⁺ of `aihwkit-linear-step` (aihwkit `gamma_up_dtod`).
    public var gammaUpDtod = 0.0
    /// Absolute device-to-device σ of γ⁻ of `aihwkit-linear-step` (aihwkit `gamma_down_dtod`).
    public var gammaDownDtod = 0.0
    /// `aihwkit-linear-step`: slopes referenced to the mean bounds (true) or each device's own.
    public var meanBoundReference = true
    /// Whether the per-pulse c2c noise `dw_min_std` multiplies the state-dependent step (true) or adds
    /// dw_min_std × the device's step whatever its state (aihwkit `mult_noise`).
    public var multNoise = true
    /// ExpStep's A_up of y⁺ = 1 − A_up·e^{γ_up·z} (aihwkit `A_up`).
    public var expAUp = 0.00081
    /// ExpStep's A_down of y⁻ = 1 − A_down·e^{−γ_down·z} (aihwkit `A_down`).
    public var expADown = 0.36833
    /// ExpStep's γ_up (aihwkit `gamma_up` of ExpStepDevice).
    public var expGammaUp = 12.44625
    /// ExpStep's γ_down (aihwkit `gamma_down` of ExpStepDevice).
    public var expGammaDown = 12.78785
    /// ExpStep's a of z = 2a·w/(b_max − b_min) + b (aihwkit `a`).
    public var expA = 0.244
    /// ExpStep's b (aihwkit `b`).
    public var expB = 0.2425
    /// ExpStep's extra c2c term, absolute weight units (aihwkit `dw_min_std_add`).
    public var dwMinStdAdd = 0.0
    /// ExpStep's extra c2c term, relative to |w| (aihwkit `dw_min_std_slope`).
    public var dwMinStdSlope = 0.0
    /// PowStep's exponent γ (aihwkit `pow_gamma`).
    public var powGamma = 1.0
    /// Relative device-to-device σ of γ (aihwkit `pow_gamma_dtod`).
    public var powGammaDtod = 0.0
    /// Up/down asymmetry of γ (aihwkit `pow_up_down`).
    public var powUpDown = 0.0
    /// Device-to-device σ of that asymmetry (aihwkit `pow_up_down_dtod`).
    public var powUpDownDtod = 0.0
    /// PiecewiseStep's step factors of up pulses at nodes spaced evenly from b_min to b_max (aihwkit `piecewise_up`).
    public var piecewiseUp: [Double] = [1]
    /// PiecewiseStep's step factors of down pulses (aihwkit `piecewise_down`), as many as `piecewise_up`.
    public var piecewiseDown: [Double] = [1]
    /// Write pulse amplitude (V) of potentiation and depression, for the write energy V²·G·t per
    /// pulse (0: write energy not modelled).
    public var writeVoltageUp = 0.0
    /// Write pulse amplitude (V) of depression.
    public var writeVoltageDown = 0.0
    /// Write pulse width (s) of potentiation, for the write energy and latency (0: not modelled).
    public var pulseWidthUp = 0.0
    /// Write pulse width (s) of depression.
    public var pulseWidthDown = 0.0
    /// Mean drift exponent ν̄ of G(t) = G(t₀)·((t + t₀)/t₀)^(−ν) after programming (0 = no drift; `Drift`).
    public var driftNu = 0.0
    /// Device-to-device σ of ν (absolute; ν = |ν̄ + σξ| per device).
    public var driftNuDtod = 0.0
    /// Time t₀ of the reference read after programming (s), from which drift is counted.
    public var driftT0 = 20.0
    /// Number of distinct conductance states (0 = continuous).
    public var levels = 0
    /// One-sided pairs: a pair is refreshed when its larger device is above this fraction of the range
    /// and its smaller above `refresh_lower` (aihwkit `refresh_upper_thres`).
    public var refreshUpper = 0.75
    /// One-sided pairs: the smaller device's threshold of a refresh (aihwkit `refresh_lower_thres`).
    public var refreshLower = 0.25
    /// One-sided pairs: the normalized conductance a refresh resets both devices to, and its σ.
    public var resetLevel = 0.0
    /// σ of the reset level (normalized conductance).
    public var resetStd = 0.0
    /// Fractions of devices stuck at G_min and at G_max.
    public var stuckMin = 0.0
    /// Fraction of devices stuck at G_max (stuck_min + stuck_max ≤ 1).
    public var stuckMax = 0.0

    /// The ideal device's parameters: every field at its default.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, gMin = "g_min", gMax = "g_max", wMax = "w_max", mapping
        case dwMin = "dw_min", upDown = "up_down", dwMinDtod = "dw_min_dtod", upDownDtod = "up_down_dtod"
        case dwMinStd = "dw_min_std", gammaUp = "gamma_up", gammaDown = "gamma_down", gammaDtod = "gamma_dtod"
        case writeNoiseStd = "write_noise_std"
        case pulses, nlLtp = "nl_ltp", nlLtd = "nl_ltd", nlDtod = "nl_dtod", c2c
        case weightMin = "weight_min", weightMax = "weight_max", weightMinDtod = "weight_min_dtod", weightMaxDtod =
            "weight_max_dtod"
        case gammaUpDtod = "gamma_up_dtod", gammaDownDtod = "gamma_down_dtod", meanBoundReference =
            "mean_bound_reference"
        case multNoise = "mult_noise", expAUp = "exp_a_up", expADown = "exp_a_down", expGammaUp = "exp_gamma_up"
        case expGammaDown = "exp_gamma_down", expA = "exp_a", expB = "exp_b", dwMinStdAdd = "dw_min_std_add"
        case dwMinStdSlope = "dw_min_std_slope", powGamma = "pow_gamma", powGammaDtod = "pow_gamma_dtod", powUpDown =
            "pow_up_down"
        case powUpDownDtod = "pow_up_down_dtod", piecewiseUp = "piecewise_up", piecewiseDown = "piecewise_down"
        case writeVoltageUp = "write_voltage_up", writeVoltageDown = "write_voltage_down"
        case pulseWidthUp = "pulse_width_up", pulseWidthDown = "pulse_width_down"
        case driftNu = "drift_nu", driftNuDtod = "drift_nu_dtod", driftT0 = "drift_t0"
        case refreshUpper = "refresh_upper", refreshLower = "refresh_lower", resetLevel = "reset_level", resetStd =
            "reset_std"
        case levels, stuckMin = "stuck_min", stuckMax = "stuck_max"
    }

    /// Decodes the `device:` section; missing fields keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<V: Decodable>(_ k: CodingKeys, _ v: inout V) throws {
            if let x = try c.decodeIfPresent(V.self, forKey: k) { v = x }
        }
        try get(.model, &model); try get(.gMin, &gMin); try get(.gMax, &gMax); try get(.wMax, &wMax);
        try get(.mapping, &mapping)
        try get(.dwMin, &dwMin); try get(.upDown, &upDown); try get(.dwMinDtod, &dwMinDtod);
        try get(.upDownDtod, &upDownDtod)
        try get(.dwMinStd, &dwMinStd); try get(.gammaUp, &gammaUp); try get(.gammaDown, &gammaDown);
        try get(.gammaDtod, &gammaDtod)
        try get(.writeNoiseStd, &writeNoiseStd)
        try get(.pulses, &pulses); try get(.nlLtp, &nlLtp); try get(.nlLtd, &nlLtd); try get(.nlDtod, &nlDtod);
        try get(.c2c, &c2c)
        try get(.weightMin, &weightMin); try get(.weightMax, &weightMax); try get(.weightMinDtod, &weightMinDtod)
        try get(.weightMaxDtod, &weightMaxDtod); try get(.gammaUpDtod, &gammaUpDtod);
        try get(.gammaDownDtod, &gammaDownDtod)
        try get(.meanBoundReference, &meanBoundReference); try get(.multNoise, &multNoise)
        try get(.expAUp, &expAUp); try get(.expADown, &expADown); try get(.expGammaUp, &expGammaUp);
        try get(.expGammaDown, &expGammaDown)
        try get(.expA, &expA); try get(.expB, &expB); try get(.dwMinStdAdd, &dwMinStdAdd);
        try get(.dwMinStdSlope, &dwMinStdSlope)
        try get(.powGamma, &powGamma); try get(.powGammaDtod, &powGammaDtod); try get(.powUpDown, &powUpDown)
        try get(.powUpDownDtod, &powUpDownDtod); try get(.piecewiseUp, &piecewiseUp);
        try get(.piecewiseDown, &piecewiseDown)
        try get(.writeVoltageUp, &writeVoltageUp); try get(.writeVoltageDown, &writeVoltageDown)
        try get(.pulseWidthUp, &pulseWidthUp); try get(.pulseWidthDown, &pulseWidthDown)
        try get(.driftNu, &driftNu); try get(.driftNuDtod, &driftNuDtod); try get(.driftT0, &driftT0)
        try get(.refreshUpper, &refreshUpper); try get(.refreshLower, &refreshLower); try get(.resetLevel, &resetLevel);
        try get(.resetStd, &resetStd)
        try get(.levels, &levels); try get(.stuckMin, &stuckMin); try get(.stuckMax, &stuckMax)
    }
}

/// `forward:` (and the optional `backward:`) — a read periphery (aihwkit's IOParameters) and simulated
/// time. Forward reads W·x go through `forward:`; transposed reads Wᵀ·y through `backward:` if the
/// device has one, else through `forward:` too.
public struct IOParameters: Codable, Equatable, Sendable {
    /// DAC resolution of the inputs in bits (0 = no DAC).
    public var dacBits = 0
    /// DAC range: inputs are clipped at ±dac_bound before quantization.
    public var dacBound = 1.0
    /// ADC resolution of the outputs in bits (0 = no ADC).
    public var adcBits = 0
    /// ADC range, in output (weight × input) units: outputs are clipped at ±adc_bound.
    public var adcBound = 12.0
    /// White read noise σ, in output (weight × input) units, per read.
    public var whiteNoise = 0.0
    /// Flicker noise K of S(f) = K/f^γ, relative to G (multiplicative); γ = 0 gives white noise of the
    /// same multiplicative form (for comparisons at equal variance).
    public var flickerK = 0.0
    /// Exponent γ of the flicker spectrum K/f^γ, in [0, 2] (0 = white).
    public var flickerGamma = 1.0
    /// Random telegraph noise: relative amplitude and dwell times (s).
    public var rtnAmplitude = 0.0
    /// Mean dwell time τ₀ of the telegraph trap in state 0 (s).
    public var rtnTau0 = 1e-4
    /// Mean dwell time τ₁ of the telegraph trap in state 1 (s).
    public var rtnTau1 = 1e-4
    /// Samples per synthesized noise trace (a power of two); half of each trace is used, so the
    /// lowest frequency present is 1/(noise_length·t_step).
    public var noiseLength = 4096
    /// Read voltage (V) of a full-scale input (|x| = dac_bound): the cells' read energy is
    /// Σ (V·x/dac_bound)²·G·t per device and read pulse (0: not modelled).
    public var readVoltage = 0.0
    /// Read pulse width t (s): the duration of one sample's read, for its energy and latency.
    public var readPulseWidth = 0.0
    /// DAC energy per conversion step (J; Walden figure of merit): a conversion costs fom·2^dac_bits.
    public var dacFom = 0.0
    /// ADC energy per conversion step (J): a conversion costs fom·2^adc_bits.
    public var adcFom = 0.0
    /// Resistance of one wire segment between neighbouring devices (Ω); 0 = no IR drop. The drop
    /// scales with r·G and with the square of the lines' length (`IRDrop`).
    public var wireResistance = 0.0
    /// How IR drop is computed: `first-order` in r (one extra matrix product per read) or `exact`
    /// (a nodal solve per input vector; arrays of at most 65,536 devices).
    public var irDropModel: IRDropModel = .firstOrder
    /// Simulated time per dynamics step, and between the free and the nudged phase (s).
    public var tStep = 1e-6
    /// Simulated time between the free and the nudged phase (s).
    public var phaseGap = 1e-6

    /// An exact read path: no converters, no read noise.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dacBits = "dac_bits", dacBound = "dac_bound", adcBits = "adc_bits", adcBound = "adc_bound"
        case whiteNoise = "white_noise", flickerK = "flicker_k", flickerGamma = "flicker_gamma"
        case rtnAmplitude = "rtn_amplitude", rtnTau0 = "rtn_tau0", rtnTau1 = "rtn_tau1"
        case noiseLength = "noise_length", readVoltage = "read_voltage", readPulseWidth = "read_pulse_width", dacFom =
            "dac_fom", adcFom = "adc_fom"
        case wireResistance = "wire_resistance", irDropModel = "ir_drop_model"
        case tStep = "t_step", phaseGap = "phase_gap"
    }

    /// Decodes the `forward:` section; missing fields keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<V: Decodable>(_ k: CodingKeys, _ v: inout V) throws {
            if let x = try c.decodeIfPresent(V.self, forKey: k) { v = x }
        }
        try get(.dacBits, &dacBits); try get(.dacBound, &dacBound); try get(.adcBits, &adcBits);
        try get(.adcBound, &adcBound)
        try get(.whiteNoise, &whiteNoise); try get(.flickerK, &flickerK); try get(.flickerGamma, &flickerGamma)
        try get(.rtnAmplitude, &rtnAmplitude); try get(.rtnTau0, &rtnTau0); try get(.rtnTau1, &rtnTau1)
        try get(.noiseLength, &noiseLength); try get(.readVoltage, &readVoltage);
        try get(.readPulseWidth, &readPulseWidth)
        try get(.dacFom, &dacFom); try get(.adcFom, &adcFom); try get(.wireResistance, &wireResistance);
        try get(.irDropModel, &irDropModel)
        try get(.tStep, &tStep); try get(.phaseGap, &phaseGap)
    }
}

/// `update:` — how a weight update becomes device pulses (aihwkit's UpdateParameters).
public struct UpdateParameters: Codable, Equatable, Sendable {
    /// How an update becomes pulses: deterministic counts or stochastic pulse trains.
    public var programming: Programming = .stochastic
    /// Rounding of deterministic pulse counts and of conductances onto the grid (`levels`).
    public var rounding: Rounding = .stochastic
    /// Pulse-train length of stochastic programming (the most slots with `bl_management`).
    public var bl = 31
    /// Stochastic programming: choose the train length per sample, BL = min(⌈k⌉, bl) with k the
    /// expected pulses of the sample's largest element, and cap the input side when k > bl (aihwkit's
    /// `update_bl_management`, which also turns on its `update_management`). Off: always bl slots.
    public var blManagement = false
    /// Largest number of pulses one device receives in one update.
    public var maxPulses = 100
    /// Whether the contrastive EP update is programmed in two passes or one pass of the difference.
    public var passes: UpdatePasses = .two
    /// Update scheme: `direct`; `mixed-precision` (a digital accumulator χ in front of the devices;
    /// its transfers are deterministic pulse counts, so `programming` and `passes` do not apply);
    /// `tiki-taka` or `tiki-taka-v2` (a fast array A in front of the slow array C; A is programmed as
    /// `programming` and `passes` say).
    public var scheme: UpdateScheme = .direct
    /// Mixed precision and Tiki-Taka v2: a device is pulsed when |χ| (|H|) reaches this many device
    /// steps (mean steps of the law).
    public var transferThreshold = 1.0
    /// Mixed precision and Tiki-Taka v2: how |χ| (|H|) in steps becomes a pulse count.
    public var transferRounding: TransferRounding = .truncate
    /// Mixed precision and Tiki-Taka v2: bits of χ (H) as a signed fixed-point number covering
    /// ±2·max(transfer_threshold, 1) device steps (0 = Float). After every add and every transfer χ
    /// is rounded to the nearest of its 2^bits − 1 levels and saturates at the range: updates below
    /// half a level vanish.
    public var chiBits = 0
    /// Tiki-Taka: weight γ of the fast array in W = γ·A + C, in [1e-4, 1]. An update ΔW is written into A
    /// as ΔW/γ, so a small γ makes A's device steps γ times finer in weight units (aihwkit `gamma`).
    public var gamma = 0.3
    /// Tiki-Taka: updates between two transfers from A to C (aihwkit `transfer_every`).
    public var transferEvery = 1
    /// Tiki-Taka: columns of A read and moved per transfer, in cyclic order (at most the fan-in).
    /// The defaults (γ = 0.3, 32 columns every update) come from a one-seed scan of γ ∈ {0.1, 0.3, 1}
    /// × {32, 256} columns for P-1h on EpiRAM, 10k examples, 1 epoch.
    public var transferColumns = 32
    /// Tiki-Taka: fraction lr of a read column â of A moved per transfer: C (v1, as pulse counts
    /// rounded as `rounding` says) or H (v2) receives lr·γ·â, and A loses what was moved (as pulses).
    public var transferLr = 1.0

    /// The default programming: stochastic pulse trains of length 31, two passes.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case programming, rounding, bl, blManagement = "bl_management", maxPulses = "max_pulses", passes, scheme
        case transferThreshold = "transfer_threshold", transferRounding = "transfer_rounding", chiBits = "chi_bits"
        case gamma, transferEvery = "transfer_every", transferColumns = "transfer_columns", transferLr = "transfer_lr"
    }

    /// Decodes the `update:` section; missing fields keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<V: Decodable>(_ k: CodingKeys, _ v: inout V) throws {
            if let x = try c.decodeIfPresent(V.self, forKey: k) { v = x }
        }
        try get(.programming, &programming); try get(.rounding, &rounding); try get(.bl, &bl);
        try get(.blManagement, &blManagement); try get(.maxPulses, &maxPulses); try get(.passes, &passes)
        try get(.scheme, &scheme); try get(.transferThreshold, &transferThreshold);
        try get(.transferRounding, &transferRounding)
        try get(.chiBits, &chiBits); try get(.gamma, &gamma); try get(.transferEvery, &transferEvery);
        try get(.transferColumns, &transferColumns)
        try get(.transferLr, &transferLr)
    }
}
