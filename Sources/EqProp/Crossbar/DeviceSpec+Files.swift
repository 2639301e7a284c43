import Foundation
import Yams

extension DeviceSpec {
    /// Loads a device preset by name (from `$XBAR_MODELS_DIR/devices`, then the shipped presets) or a
    /// YAML file by path, decoded and validated.
    public static func load(_ nameOrPath: String) throws -> DeviceSpec {
        let url = try PresetLocator.resolve(nameOrPath, kind: "devices")
        return try decode(yaml: PresetYAML.read(url), source: url.lastPathComponent)
    }

    /// Allowed values of the fields that take a name.
    static let choices: [String: [String]] = [
        "model": DeviceModel.allCases.map(\.rawValue), "rounding": Rounding.allCases.map(\.rawValue),
        "programming": Programming.allCases.map(\.rawValue), "mapping": Mapping.allCases.map(\.rawValue),
        "passes": UpdatePasses.allCases.map(\.rawValue), "scheme": UpdateScheme.allCases.map(\.rawValue),
        "transfer_rounding": TransferRounding.allCases.map(\.rawValue),
        "ir_drop_model": IRDropModel.allCases.map(\.rawValue)
    ]

    /// Decodes a device file: the `device:`, `forward:`, optional `backward:` and `update:` sections, or
    /// their fields at the top level (a file written before the sections existed; read-path fields go
    /// to `forward:`), but no field in both places. Every
    /// field but `device.model` has a default (the ideal device's); `model` is required, since without
    /// it every pulse parameter of the file would be silently ignored.
    public static func decode(yaml: String, source: String) throws -> DeviceSpec {
        let flat = sections.flatMap(\.fields)
        let top = try PresetYAML.mapping(yaml, source: source, known: Set(CodingKeys.allCases.map(\.rawValue) + flat))
        var out: [String: Any] = [:]
        for k in ["name", "source", "measured", "assumed"] { if let v = top[k] { out[k] = v } }
        for s in sections {
            var section: [String: Any] = [:]
            if let v = top[s.name] {
                guard let m = v as? [String: Any] else {
                    throw InputError(
                        "\(source): field '\(s.name)' must be a mapping of fields (\(s.fields.joined(separator: ", ")))"
                    )
                }
                for k in m.keys.sorted() where !s.fields.contains(k) {
                    let home =
                        DeviceSpec.section(of: k).map { "; '\(k)' belongs in '\($0):'" }
                        ?? " (known: \(s.fields.joined(separator: ", ")))"
                    throw InputError("\(source): unknown field '\(s.name).\(k)'\(home)")
                }
                section = m
            }
            for k in s.fields where top[k] != nil && DeviceSpec.section(of: k) == s.name {
                if section[k] != nil {
                    throw InputError("\(source): field '\(k)' is given twice (at the top level and in '\(s.name):')")
                }
                section[k] = top[k]
            }
            if s.name != "backward" || top[s.name] != nil { out[s.name] = section }
        }
        if (out["device"] as? [String: Any])?["model"] == nil {
            throw InputError(
                "\(source): missing field 'model' in 'device:' (one of \(choices["model"]!.joined(separator: ", ")))")
        }
        return try PresetYAML.decode(
            DeviceSpec.self, from: try Yams.dump(object: out), source: source, choices: choices,
            fieldName: { $0.last?.stringValue ?? "" }
        ) { try $0.validate() }
    }

    /// Sets one field from text (`--device.FIELD VALUE` or `--device.SECTION.FIELD VALUE`), through the
    /// same decoder and validation.
    public func setting(_ field: String, to value: String) throws -> DeviceSpec {
        let parts = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let sectionName: String?, name: String
        if parts.count == 2 {
            (sectionName, name) = (
                Self.sections.first { $0.name == parts[0] && $0.fields.contains(parts[1]) }?.name, parts[1]
            )
        } else {
            (sectionName, name) = (parts.count == 1 ? Self.section(of: field) : nil, field)
        }
        guard let sectionName else {
            if parts.count == 2, let home = Self.section(of: parts[1]) {
                throw InputError(
                    "unknown device field '\(field)': '\(parts[1])' belongs in '\(home)' (\(home).\(parts[1]), or "
                        + "\(parts[1]) alone)"
                )
            }
            throw InputError(
                "unknown device field '\(field)' (known: \(Self.fieldNames.joined(separator: ", ")); the section may "
                    + "be left out)"
            )
        }
        var text = (try? YAMLEncoder().encode(self)) ?? ""
        text += "\n"
        var dict = (try Yams.load(yaml: text) as? [String: Any]) ?? [:]
        // A first `backward.FIELD` starts from the forward periphery it replaces.
        var section =
            dict[sectionName] as? [String: Any]
            ?? (sectionName == "backward" ? dict["forward"] as? [String: Any] ?? [:] : [:])
        section[name] = try PresetYAML.load(value, source: "device.\(field)")
        dict[sectionName] = section
        let result = try Self.decode(yaml: try Yams.dump(object: dict), source: "device.\(field)")
        // The ideal device holds exact weights: any physical field would be silently ignored.
        if result.model == .ideal && !["name", "source", "measured", "assumed", "model"].contains(name) {
            throw InputError(
                "device '\(result.name)' is ideal (exact weights): field '\(field)' has no effect on it; choose a "
                    + "device preset (xbar devices) to simulate it"
            )
        }
        return result
    }

    /// Most devices of one array the exact IR-drop solve takes (a 256 × 256 array): it solves the
    /// nodal equations for every input vector of every read.
    public static let exactIRDropLimit = 65_536

    /// Checks what depends on the arrays' shapes (rows × columns of each weight matrix).
    public func checkArrays(_ shapes: [(rows: Int, cols: Int)]) throws {
        guard self.wireResistance > 0 && self.irDropModel == .exact && self.model != .ideal else { return }
        for (k, s) in shapes.enumerated() where s.rows * s.cols > Self.exactIRDropLimit {
            throw InputError(
                "device '\(name)': ir_drop_model exact solves arrays of at most \(Self.exactIRDropLimit) devices; "
                    + "weight matrix \(k + 1) is \(s.rows) × \(s.cols) (\(s.rows * s.cols)); use ir_drop_model "
                    + "first-order"
            )
        }
    }

    /// Checks every field; the error names the field and the allowed range.
    public func validate() throws {
        if let b = backward {
            // The backward periphery obeys the forward one's rules; its errors name `backward.FIELD`.
            var c = self; c.forward = b; c.backward = nil
            do { try c.validate() } catch let e as InputError {
                throw InputError(e.message.replacingOccurrences(of: "field '", with: "field 'backward."))
            }
        }
        func fail(_ f: String, _ rule: String, _ got: Any) throws -> Never {
            throw InputError("device '\(name)': field '\(f)' must be \(rule) (got \(got))")
        }
        func nonNegative(_ f: String, _ v: Double) throws { if !(v.isFinite && v >= 0) { try fail(f, "≥ 0", v) } }
        func fraction(_ f: String, _ v: Double) throws {
            if !(v.isFinite && v >= 0 && v <= 1) { try fail(f, "in [0, 1]", v) }
        }
        if !(self.gMin.isFinite && self.gMin >= 0) { try fail("g_min", "≥ 0", self.gMin) }
        if !(self.gMax.isFinite && self.gMax > self.gMin) {
            try fail("g_max", "greater than g_min (\(self.gMin))", self.gMax)
        }
        // Weights are Float: a range near Float's limit makes every product overflow.
        if !(self.wMax.isFinite && self.wMax > 0 && self.wMax <= 1e6) { try fail("w_max", "in (0, 1e6]", self.wMax) }
        if !(self.weightMin.isFinite && self.weightMin <= 0 && self.weightMin >= -1e3) {
            try fail("weight_min", "in [-1000, 0] (aihwkit's w_min ≤ 0)", self.weightMin)
        }
        if !(self.weightMax.isFinite && self.weightMax >= 0 && self.weightMax <= 1e3 && self.weightMax > self.weightMin)
        {
            try fail("weight_max", "in [0, 1000] and greater than weight_min (\(self.weightMin))", self.weightMax)
        }
        if self.model.isAihwkit {
            let r = self.weightMax - self.weightMin
            if !(self.dwMin.isFinite && self.dwMin > 0 && self.dwMin <= r) {
                try fail("dw_min", "in (0, \(r)] (weight units: at most weight_max − weight_min)", self.dwMin)
            }
        } else if !(self.dwMin.isFinite && self.dwMin > 0 && self.dwMin <= 1) {
            try fail("dw_min", "in (0, 1] (a fraction of the conductance range)", self.dwMin)
        }
        for (f, v) in [("exp_a_up", self.expAUp), ("exp_a_down", self.expADown)] where !(v.isFinite && abs(v) <= 1e6) {
            try fail(f, "in [-1e6, 1e6]", v)
        }
        for (f, v) in [
            ("exp_gamma_up", self.expGammaUp), ("exp_gamma_down", self.expGammaDown), ("exp_a", self.expA),
            ("exp_b", self.expB)
        ]
        where !(v.isFinite && abs(v) <= 100) { try fail(f, "in [-100, 100]", v) }
        if !(self.powGamma.isFinite && self.powGamma >= 0 && self.powGamma <= 100) {
            try fail("pow_gamma", "in [0, 100]", self.powGamma)
        }
        if !(self.powUpDown.isFinite && abs(self.powUpDown) < 1) {
            try fail("pow_up_down", "in (−1, 1)", self.powUpDown)
        }
        for (f, v) in [("piecewise_up", self.piecewiseUp), ("piecewise_down", self.piecewiseDown)] {
            if v.isEmpty || v.count > 64 { try fail(f, "a list of 1…64 step factors", "\(v.count) values") }
            if let x = v.first(where: { !($0.isFinite && $0 >= 0 && $0 <= 1e3) }) {
                try fail(f, "a list of step factors in [0, 1000]", x)
            }
        }
        if self.piecewiseUp.count != self.piecewiseDown.count {
            try fail(
                "piecewise_down", "as long as piecewise_up (\(self.piecewiseUp.count) values)",
                "\(self.piecewiseDown.count) values")
        }
        if !(self.upDown.isFinite && abs(self.upDown) < 1) { try fail("up_down", "in (−1, 1)", self.upDown) }
        // Spreads and noise amplitudes are relative (to a step, the range or the weight): beyond 10
        // (1000 %) a value is a typo that would end as an overflow reported as a divergence. Write
        // noise is in units of dw_min and NL spreads in label units, hence their wider bounds.
        for (f, v, hi) in [
            ("dw_min_dtod", self.dwMinDtod, 10.0), ("up_down_dtod", self.upDownDtod, 10),
            ("dw_min_std", self.dwMinStd, 10),
            ("gamma_dtod", self.gammaDtod, 10), ("write_noise_std", self.writeNoiseStd, 1e4),
            ("nl_dtod", self.nlDtod, 100),
            ("c2c", self.c2c, 10), ("white_noise", self.whiteNoise, 10), ("flicker_k", self.flickerK, 10),
            ("rtn_amplitude", self.rtnAmplitude, 10), ("weight_min_dtod", self.weightMinDtod, 10),
            ("weight_max_dtod", self.weightMaxDtod, 10), ("gamma_up_dtod", self.gammaUpDtod, 10),
            ("gamma_down_dtod", self.gammaDownDtod, 10), ("dw_min_std_add", self.dwMinStdAdd, 1e3),
            ("dw_min_std_slope", self.dwMinStdSlope, 10), ("pow_gamma_dtod", self.powGammaDtod, 10),
            ("pow_up_down_dtod", self.powUpDownDtod, 10)
        ]
        where !(v.isFinite && v >= 0 && v <= hi) {
            try fail(f, "in [0, \(String(format: "%g", hi))]", v)
        }
        for (f, v) in [("gamma_up", self.gammaUp), ("gamma_down", self.gammaDown)]
        where !(v.isFinite && v >= 0 && v <= 1) {
            try fail(f, "in [0, 1]", v)
        }
        if !(1...100_000).contains(self.pulses) { try fail("pulses", "an integer in 1…100000", self.pulses) }
        for (f, v) in [("nl_ltp", self.nlLtp), ("nl_ltd", self.nlLtd)]
        where !(v.isFinite && abs(v) < NonlinearityLabel.labelScale) {
            try fail(f, "a label with |NL| < \(NonlinearityLabel.labelScale) (0 = linear)", v)
        }
        if self.levels == 1 || self.levels < 0 || self.levels > 1 << 24 {
            try fail("levels", "0 (continuous) or an integer in 2…16777216", self.levels)
        }
        try fraction("stuck_min", self.stuckMin); try fraction("stuck_max", self.stuckMax)
        if self.stuckMin + self.stuckMax > 1 { try fail("stuck_max", "at most 1 − stuck_min", self.stuckMax) }
        for (f, v) in [("dac_bits", self.dacBits), ("adc_bits", self.adcBits)] where v != 0 && !(2...24).contains(v) {
            try fail(f, "0 (off) or in 2…24", v)
        }
        for (f, v) in [("dac_bound", self.dacBound), ("adc_bound", self.adcBound)]
        where !(v.isFinite && v >= 1e-6 && v <= 1e6) {
            try fail(f, "in [1e-6, 1e6]", v)
        }
        if !(self.flickerGamma.isFinite && self.flickerGamma >= 0 && self.flickerGamma <= 2) {
            try fail("flicker_gamma", "in [0, 2] (0 = white)", self.flickerGamma)
        }
        // Times in seconds. A gap is counted in read steps (phase_gap / t_step) on an integer clock.
        for (f, v) in [("rtn_tau0", self.rtnTau0), ("rtn_tau1", self.rtnTau1)] where !(v.isFinite && v > 0 && v <= 1e9)
        { try fail(f, "in (0, 1e9] s", v) }
        if !(self.tStep.isFinite && self.tStep >= 1e-15 && self.tStep <= 1e3) {
            try fail("t_step", "in [1e-15, 1e3] s", self.tStep)
        }
        if !(self.phaseGap.isFinite && self.phaseGap >= 0 && self.phaseGap / self.tStep <= 1e9) {
            try fail(
                "phase_gap", "in [0, 1e9·t_step] s (at most 1e9 read steps; t_step = \(self.tStep) s)", self.phaseGap)
        }
        if self.noiseLength < 64 || self.noiseLength > 1 << 20 || self.noiseLength & (self.noiseLength - 1) != 0 {
            try fail("noise_length", "a power of two in 64…1048576", self.noiseLength)
        }
        for (f, v, hi, unit) in [
            ("write_voltage_up", self.writeVoltageUp, 100.0, "V"),
            ("write_voltage_down", self.writeVoltageDown, 100, "V"),
            ("pulse_width_up", self.pulseWidthUp, 1, "s"), ("pulse_width_down", self.pulseWidthDown, 1, "s"),
            ("read_voltage", self.readVoltage, 100, "V"), ("read_pulse_width", self.readPulseWidth, 1, "s"),
            ("dac_fom", self.dacFom, 1e-6, "J"), ("adc_fom", self.adcFom, 1e-6, "J")
        ]
        where !(v.isFinite && v >= 0 && v <= hi) {
            try fail(f, "in [0, \(String(format: "%g", hi))] \(unit)", v)
        }
        for (f, v) in [
            ("refresh_upper", self.refreshUpper), ("refresh_lower", self.refreshLower),
            ("reset_level", self.resetLevel), ("reset_std", self.resetStd)
        ]
        where !(v.isFinite && v >= 0 && v <= 1) {
            try fail(f, "in [0, 1] (a fraction of the conductance range)", v)
        }
        if self.refreshLower > self.refreshUpper {
            try fail("refresh_lower", "at most refresh_upper (\(self.refreshUpper))", self.refreshLower)
        }
        if self.mapping == .oneSided && self.scheme.isTikiTaka {
            try fail(
                "mapping", "differential or reference with a Tiki-Taka scheme (one-sided pairs refresh themselves)",
                "one-sided")
        }
        for (f, v) in [("drift_nu", self.driftNu), ("drift_nu_dtod", self.driftNuDtod)]
        where !(v.isFinite && v >= 0 && v <= 1) {
            try fail(f, "in [0, 1] (ν ≥ 0: conductance decays as t^−ν)", v)
        }
        if !(self.driftT0.isFinite && self.driftT0 > 0 && self.driftT0 <= 1e9) {
            try fail("drift_t0", "in (0, 1e9] s", self.driftT0)
        }
        if !(self.wireResistance.isFinite && self.wireResistance >= 0 && self.wireResistance <= 1e4) {
            try fail("wire_resistance", "in [0, 10000] Ω per segment", self.wireResistance)
        }
        if !(1...64).contains(self.bl) { try fail("bl", "in 1…64", self.bl) }
        if !(self.transferThreshold.isFinite && self.transferThreshold >= 0 && self.transferThreshold <= 1000) {
            try fail("transfer_threshold", "in [0, 1000] device steps", self.transferThreshold)
        }
        if self.model == .ideal && self.scheme != .direct {
            try fail(
                "scheme", "direct for the ideal device (it stores the weights exactly; update schemes program pulses)",
                self.scheme.rawValue)
        }
        if self.chiBits != 0 && !(2...24).contains(self.chiBits) {
            try fail("chi_bits", "0 (Float) or in 2…24", self.chiBits)
        }
        if !(self.gamma.isFinite && self.gamma >= 1e-4 && self.gamma <= 1) {
            try fail("gamma", "in [1e-4, 1] (weight of the fast array)", self.gamma)
        }
        if !(1...1_000_000).contains(self.transferEvery) {
            try fail("transfer_every", "an integer in 1…1000000 updates", self.transferEvery)
        }
        if !(1...1_000_000).contains(self.transferColumns) {
            try fail("transfer_columns", "an integer in 1…1000000 columns", self.transferColumns)
        }
        if !(self.transferLr.isFinite && self.transferLr > 0 && self.transferLr <= 1) {
            try fail("transfer_lr", "in (0, 1]", self.transferLr)
        }
        if !(1...1_000_000).contains(self.maxPulses) {
            try fail("max_pulses", "an integer in 1…1000000", self.maxPulses)
        }
    }
}
