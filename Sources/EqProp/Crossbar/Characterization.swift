import Foundation

/// What `xbar devices show` and `xbar noise` measure: a device's conductance-vs-pulse curve with its
/// cycle-to-cycle spread, and the spectrum of its synthesized read noise.
public enum Characterization {
    /// Where the pulse protocol starts each device.
    public enum Start: String, Codable, Sendable, CaseIterable {
        /// At the device's own lower bound (aihwkit's plotting recipe: weights set to −∞ and clipped).
        case lower
        /// At weight 0 (u₀ = −weight_min/R), clipped to the device's bounds.
        case zero
    }

    /// A device's response to P up then P down pulses (aihwkit's protocol): the nominal device, and
    /// statistics over simulated devices (d2d + c2c + write noise) after every pulse.
    public struct Curve: Codable, Sendable {
        /// Pulse index 0…2P: 0 is the start, 1…P potentiation, P+1…2P depression.
        public var pulse: [Int]
        /// Noiseless curve of the nominal device, normalized conductance.
        public var nominal: [Double]
        /// Mean over the simulated devices, normalized conductance.
        public var mean: [Double]
        /// Standard deviation over the simulated devices, normalized conductance.
        public var std: [Double]
        /// The same in the preset's weight units w = weight_min + (weight_max − weight_min)·u (aihwkit's
        /// convention): mean, standard deviation, 5th and 95th percentiles over the devices.
        public var weightMean: [Double], weightStd: [Double], weightP05: [Double], weightP95: [Double]
        /// The weight units: `weight_min` and `weight_max` of the preset.
        public var weightMin: Double, weightMax: Double
        /// Where each device started.
        public var start: Start
        /// Simulated devices.
        public var devices: Int
        /// First over last potentiation step of the nominal curve (NeuroSim's step-size ratio).
        public var stepRatioLTP: Double
        /// First over last depression step of the nominal curve.
        public var stepRatioLTD: Double
        /// Pulses P of each direction.
        public var pulsesPerSweep: Int
        enum CodingKeys: String, CodingKey {
            case pulse, nominal, mean, std, weightMean = "weight_mean", weightStd = "weight_std", weightP05 =
                "weight_p05"
            case weightP95 = "weight_p95", weightMin = "weight_min", weightMax = "weight_max", start, devices
            case stepRatioLTP = "step_ratio_ltp", stepRatioLTD = "step_ratio_ltd", pulsesPerSweep = "pulses_per_sweep"
        }
        /// Encodes the curve; a step ratio that is undefined (a last step of 0, e.g. on a quantized
        /// device) is written as `null`, since JSON has no infinity.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(pulse, forKey: .pulse); try c.encode(nominal, forKey: .nominal)
            try c.encode(mean, forKey: .mean); try c.encode(std, forKey: .std)
            try c.encode(weightMean, forKey: .weightMean); try c.encode(weightStd, forKey: .weightStd)
            try c.encode(weightP05, forKey: .weightP05); try c.encode(weightP95, forKey: .weightP95)
            try c.encode(weightMin, forKey: .weightMin); try c.encode(weightMax, forKey: .weightMax)
            try c.encode(start, forKey: .start); try c.encode(devices, forKey: .devices)
            try c.encode(stepRatioLTP.isFinite ? stepRatioLTP : nil, forKey: .stepRatioLTP)
            try c.encode(stepRatioLTD.isFinite ? stepRatioLTD : nil, forKey: .stepRatioLTD)
            try c.encode(pulsesPerSweep, forKey: .pulsesPerSweep)
        }
        /// Decodes a curve written by `encode(to:)` (`null` ratios are +∞).
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            pulse = try c.decode([Int].self, forKey: .pulse); nominal = try c.decode([Double].self, forKey: .nominal)
            mean = try c.decode([Double].self, forKey: .mean); std = try c.decode([Double].self, forKey: .std)
            weightMean = try c.decode([Double].self, forKey: .weightMean);
            weightStd = try c.decode([Double].self, forKey: .weightStd)
            weightP05 = try c.decode([Double].self, forKey: .weightP05);
            weightP95 = try c.decode([Double].self, forKey: .weightP95)
            weightMin = try c.decode(Double.self, forKey: .weightMin);
            weightMax = try c.decode(Double.self, forKey: .weightMax)
            start = try c.decode(Start.self, forKey: .start); devices = try c.decode(Int.self, forKey: .devices)
            stepRatioLTP = try c.decodeIfPresent(Double.self, forKey: .stepRatioLTP) ?? .infinity
            stepRatioLTD = try c.decodeIfPresent(Double.self, forKey: .stepRatioLTD) ?? .infinity
            pulsesPerSweep = try c.decode(Int.self, forKey: .pulsesPerSweep)
        }
        init(pulses p: Int, devices: Int, start: Start, units: WeightUnits) {
            pulse = Array(0...(2 * p)); nominal = []; mean = []; std = []
            weightMean = []; weightStd = []; weightP05 = []; weightP95 = []
            weightMin = units.min; weightMax = units.max; self.start = start; self.devices = devices
            stepRatioLTP = .infinity; stepRatioLTD = .infinity; pulsesPerSweep = p
        }
    }

    /// Most pulses per sweep of a characterization.
    public static let maxPulsesPerSweep = 100_000

    /// The pulses per direction that span a device's range: 1/meanStep of its law (P_max for the
    /// exponential law, (weight_max − weight_min)/dw_min for aihwkit's).
    public static func defaultPulses(_ spec: DeviceSpec) -> Int {
        guard let law = spec.law else { return 0 }
        return max(1, Int((1 / law.meanStep).rounded()))
    }

    /// Applies `pulses` up pulses, then as many down pulses, one at a time, to `devices` devices
    /// (d2d, c2c and write noise of the preset; no faults), each starting as `start` says.
    /// Throws if a sweep would take more than `maxPulsesPerSweep` pulses.
    public static func curve(
        _ spec: DeviceSpec, pulses: Int? = nil, start: Start = .lower, devices: Int = 50, seed: UInt64 = 1
    ) throws -> Curve {
        var s = spec
        s.stuckMin = 0; s.stuckMax = 0; s.scheme = .direct
        let p = pulses ?? defaultPulses(spec)
        guard p >= 1 && p <= maxPulsesPerSweep else {
            throw InputError(
                "device '\(spec.name)': a sweep of \(p) pulses per direction is outside 1…\(maxPulsesPerSweep)"
                    + (pulses == nil ? " (its dw_min is too small for the default, 1/dw_min; give --pulses)" : ""))
        }
        let units = spec.device.weightUnits
        // Nominal device: no variability, no noise.
        var nominalSpec = s
        nominalSpec.device = s.device.withoutDeviceSpread
        nominalSpec.c2c = 0; nominalSpec.dwMinStd = 0; nominalSpec.writeNoiseStd = 0
        /// Runs the protocol on n devices; `record` sees the apparent u of every device after every pulse.
        func sweep(_ sp: DeviceSpec, n: Int, record: ([Float]) -> Void) {
            let arr = CrossbarArray(spec: sp, weights: Matrix(rows: 1, cols: n), seed: seed, layer: 0)
            guard let dev = arr.store as? ProgrammedConductances else {
                preconditionFailure("device '\(sp.name)' has no pulse response")
            }
            let cells = dev.cells, prog = dev.programmer, table = dev.responses.positive
            var rng = prog.rng, normals = NormalPool()
            var noise = RandomStream(seed: seed, stream: "characterization/write-noise")
            let wn = cells.writeNoiseScale
            let zero = Float(units.u(0))
            for i in 0..<n {
                let b = table.bounds(device: i)
                cells.uPos[i] = start == .lower ? b.lower : min(max(zero, b.lower), b.upper)
            }
            var apparent = [Float](repeating: 0, count: n)
            func emit() {
                for i in 0..<n { apparent[i] = cells.uPos[i] + (wn > 0 ? wn * Float(noise.normal()) : 0) }
                record(apparent)
            }
            emit()
            for k in 0..<(2 * p) {
                let up: Float = k < p ? 1 : 0
                for i in 0..<n {
                    cells.uPos[i] = prog.pulse(
                        cells.uPos[i], table, i, up: up, down: 1 - up, stuck: 0, cells: cells,
                        rng: &rng, normals: &normals)
                }
                emit()
            }
        }
        var c = Curve(pulses: p, devices: devices, start: start, units: units)
        sweep(nominalSpec, n: 1) { c.nominal.append(Double($0[0])) }
        sweep(s, n: devices) { u in
            let x = u.map(Double.init), w = x.map(units.w).sorted()
            let m = x.reduce(0, +) / Double(devices)
            c.mean.append(m)
            c.std.append((x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(devices)).squareRoot())
            let wm = w.reduce(0, +) / Double(devices)
            c.weightMean.append(wm)
            c.weightStd.append((w.reduce(0) { $0 + ($1 - wm) * ($1 - wm) } / Double(devices)).squareRoot())
            c.weightP05.append(percentile(w, 0.05)); c.weightP95.append(percentile(w, 0.95))
        }
        let n = c.nominal
        if p >= 2 {
            let ltpFirst = n[1] - n[0], ltpLast = n[p] - n[p - 1], ltdFirst = n[p] - n[p + 1],
                ltdLast = n[2 * p - 1] - n[2 * p]
            c.stepRatioLTP = ltpLast > 0 ? ltpFirst / ltpLast : .infinity
            c.stepRatioLTD = ltdLast > 0 ? ltdFirst / ltdLast : .infinity
        }
        return c
    }

    /// The q-quantile of sorted values, linearly interpolated between order statistics (NumPy's default).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let h = q * Double(sorted.count - 1), k = Int(h.rounded(.down))
        return k + 1 < sorted.count ? sorted[k] + (h - Double(k)) * (sorted[k + 1] - sorted[k]) : sorted[k]
    }

    /// Synthesized read noise of one component compared with its target spectrum.
    public struct NoiseReport: Codable, Sendable {
        /// Name of the noise component (e.g. `telegraph`).
        public var component: String
        /// Number of synthesized traces averaged.
        public var traces: Int
        /// Samples per trace, N.
        public var length: Int
        /// Sample spacing Δt (s).
        public var dt: Double
        /// Variance the synthesis targets: ∫ S df over the band of the N-point grid.
        public var targetVariance: Double
        /// Mean square of all synthesized samples.
        public var measuredVariance: Double
        /// Flicker: fitted log-log slope over two decades and the target −γ.
        public var fittedSlope: Double?
        /// Target slope −γ of a flicker spectrum (nil for other spectra).
        public var targetSlope: Double?
        /// Frequencies f_k = k/(NΔt), k = 1…N/2 (Hz).
        public var frequencies: [Double]
        /// Target density S(f_k) at each frequency.
        public var target: [Double]
        /// One-sided periodogram averaged over the traces, at each frequency.
        public var periodogram: [Double]
        enum CodingKeys: String, CodingKey {
            case component, traces, length, dt, targetVariance = "target_variance", measuredVariance =
                "measured_variance"
            case fittedSlope = "fitted_slope", targetSlope = "target_slope", frequencies, target, periodogram
        }
    }

    /// Synthesizes `traces` traces of a spectrum and compares their averaged periodogram with it.
    public static func noise(
        _ spectrum: NoiseSpectrum, name: String, length: Int = 4096, dt: Double, traces: Int = 256, seed: UInt64 = 1
    ) -> NoiseReport {
        let s = NoiseSynthesizer(spectrum: spectrum, length: length, dt: dt)
        var rng = RandomStream(seed: seed, stream: "noise-report")
        var avg = [Double](repeating: 0, count: length / 2)
        var sq = 0.0
        for _ in 0..<traces {
            let x = s.trace(using: &rng)
            for v in x { sq += Double(v) * Double(v) }
            let p = NoiseSynthesizer.periodogram(x, dt: dt)
            for k in p.indices { avg[k] += p[k] / Double(traces) }
        }
        let df = 1 / (Double(length) * dt)
        let f = (1...(length / 2)).map { Double($0) * df }
        var slope: Double? = nil, targetSlope: Double? = nil
        if case let .flicker(_, g) = spectrum {
            let pts = (10...min(1000, length / 2 - 1)).map { (log(f[$0 - 1]), log(avg[$0 - 1])) }
            let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
            slope = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
            targetSlope = -g
        }
        return NoiseReport(
            component: name, traces: traces, length: length, dt: dt, targetVariance: s.variance,
            measuredVariance: sq / Double(traces * length), fittedSlope: slope, targetSlope: targetSlope,
            frequencies: f, target: f.map { spectrum.density($0) }, periodogram: avg)
    }

}
