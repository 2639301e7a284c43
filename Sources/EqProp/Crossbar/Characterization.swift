import Foundation

/// What `xbar devices show` and `xbar noise` measure: a device's conductance-vs-pulse curve with its
/// cycle-to-cycle spread, and the spectrum of its synthesized read noise.
public enum Characterization {
    /// A device's conductance-vs-pulse curve: the nominal device, and mean ± std over simulated devices.
    public struct Curve: Codable, Sendable {
        /// Pulse index (potentiation 1…P, then depression P+1…2P).
        public var pulse: [Int]
        /// Noiseless curve of the nominal device, normalized conductance.
        public var nominal: [Double]
        /// Mean and standard deviation over simulated devices (d2d + c2c).
        public var mean: [Double]
        /// Standard deviation over the simulated devices, normalized conductance.
        public var std: [Double]
        /// First over last potentiation step of the nominal curve (NeuroSim's step-size ratio).
        public var stepRatioLTP: Double
        /// First over last depression step of the nominal curve.
        public var stepRatioLTD: Double
        /// Pulses P of each sweep: `pulses` for the exponential law, otherwise round(1/dw_min).
        public var pulsesPerSweep: Int
        enum CodingKeys: String, CodingKey {
            case pulse, nominal, mean, std, stepRatioLTP = "step_ratio_ltp", stepRatioLTD = "step_ratio_ltd", pulsesPerSweep = "pulses_per_sweep"
        }
        /// Encodes the curve; a step ratio that is undefined (a last step of 0, e.g. on a quantized
        /// device) is written as `null`, since JSON has no infinity.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(pulse, forKey: .pulse); try c.encode(nominal, forKey: .nominal)
            try c.encode(mean, forKey: .mean); try c.encode(std, forKey: .std)
            try c.encode(stepRatioLTP.isFinite ? stepRatioLTP : nil, forKey: .stepRatioLTP)
            try c.encode(stepRatioLTD.isFinite ? stepRatioLTD : nil, forKey: .stepRatioLTD)
            try c.encode(pulsesPerSweep, forKey: .pulsesPerSweep)
        }
        /// Decodes a curve written by `encode(to:)` (`null` ratios are +∞).
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            pulse = try c.decode([Int].self, forKey: .pulse); nominal = try c.decode([Double].self, forKey: .nominal)
            mean = try c.decode([Double].self, forKey: .mean); std = try c.decode([Double].self, forKey: .std)
            stepRatioLTP = try c.decodeIfPresent(Double.self, forKey: .stepRatioLTP) ?? .infinity
            stepRatioLTD = try c.decodeIfPresent(Double.self, forKey: .stepRatioLTD) ?? .infinity
            pulsesPerSweep = try c.decode(Int.self, forKey: .pulsesPerSweep)
        }
        /// A curve from its fields.
        public init(pulse: [Int], nominal: [Double], mean: [Double], std: [Double], stepRatioLTP: Double, stepRatioLTD: Double, pulsesPerSweep: Int) {
            self.pulse = pulse; self.nominal = nominal; self.mean = mean; self.std = std
            self.stepRatioLTP = stepRatioLTP; self.stepRatioLTD = stepRatioLTD; self.pulsesPerSweep = pulsesPerSweep
        }
    }

    /// Most pulses per sweep of a characterization.
    public static let maxPulsesPerSweep = 100_000

    /// Potentiates P pulses from G_min, then depresses P pulses, one pulse at a time.
    /// Throws if a sweep would take more than `maxPulsesPerSweep` pulses (`dw_min` too small).
    public static func curve(_ spec: DeviceSpec, devices: Int = 50, seed: UInt64 = 1) throws -> Curve {
        var s = spec
        s.levels = spec.levels; s.stuckMin = 0; s.stuckMax = 0
        let steps = 1 / spec.dwMin
        guard spec.model == .exponential || steps <= Double(maxPulsesPerSweep) else {
            throw InputError("device '\(spec.name)': dw_min \(spec.dwMin) needs \(Int(steps.rounded())) pulses per sweep; the characterization draws at most \(maxPulsesPerSweep) (dw_min ≥ \(1 / Double(maxPulsesPerSweep)))")
        }
        let p = spec.model == .exponential ? spec.pulses : Int(steps.rounded())
        // Nominal device: no variability.
        var nominalSpec = s
        nominalSpec.dwMinDtod = 0; nominalSpec.upDownDtod = 0; nominalSpec.gammaDtod = 0; nominalSpec.nlDtod = 0
        nominalSpec.c2c = 0; nominalSpec.dwMinStd = 0; nominalSpec.writeNoiseStd = 0
        func sweep(_ sp: DeviceSpec, n: Int, seed: UInt64) -> [[Double]] {
            let arr = CrossbarArray(spec: sp, weights: Matrix(rows: 1, cols: n), seed: seed, layer: 0)
            guard let dev = arr.store as? ProgrammedConductances else { preconditionFailure("device '\(sp.name)' has no pulse response") }
            let cells = dev.cells, prog = dev.programmer
            var out = [[Double]](repeating: [], count: n)
            for i in 0..<n { cells.uPos[i] = 0 }
            var rng = prog.rng, normals = NormalPool()
            for k in 0..<(2 * p) {
                for i in 0..<n {
                    let up: Float = k < p ? 1 : 0
                    cells.uPos[i] = prog.pulse(cells.uPos[i], dev.responses.positive, i, up: up, down: 1 - up, stuck: 0, cells: cells,
                                               rng: &rng, normals: &normals)
                    out[i].append(Double(cells.uPos[i]))
                }
            }
            return out
        }
        let nominal = sweep(nominalSpec, n: 1, seed: seed)[0]
        let traces = sweep(s, n: devices, seed: seed)
        let mean = (0..<(2 * p)).map { k in traces.reduce(0) { $0 + $1[k] } / Double(devices) }
        let std = (0..<(2 * p)).map { k in (traces.reduce(0) { $0 + ($1[k] - mean[k]) * ($1[k] - mean[k]) } / Double(devices)).squareRoot() }
        let ltpFirst = nominal[0], ltpLast = nominal[p - 1] - nominal[p - 2]
        let ltdFirst = nominal[p - 1] - nominal[p], ltdLast = nominal[2 * p - 2] - nominal[2 * p - 1]
        return Curve(pulse: Array(1...(2 * p)), nominal: nominal, mean: mean, std: std,
                     stepRatioLTP: ltpLast > 0 ? ltpFirst / ltpLast : .infinity,
                     stepRatioLTD: ltdLast > 0 ? ltdFirst / ltdLast : .infinity, pulsesPerSweep: p)
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
            case component, traces, length, dt, targetVariance = "target_variance", measuredVariance = "measured_variance"
            case fittedSlope = "fitted_slope", targetSlope = "target_slope", frequencies, target, periodogram
        }
    }

    /// Synthesizes `traces` traces of a spectrum and compares their averaged periodogram with it.
    public static func noise(_ spectrum: NoiseSpectrum, name: String, length: Int = 4096, dt: Double, traces: Int = 256, seed: UInt64 = 1) -> NoiseReport {
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
        return NoiseReport(component: name, traces: traces, length: length, dt: dt, targetVariance: s.variance,
                           measuredVariance: sq / Double(traces * length), fittedSlope: slope, targetSlope: targetSlope,
                           frequencies: f, target: f.map { spectrum.density($0) }, periodogram: avg)
    }

}
