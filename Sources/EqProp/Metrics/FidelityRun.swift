import Foundation

/// `xbar fidelity`: consecutive EP training steps on a network (ideal or on crossbars), probed against
/// the exact gradient step — one batch at a time, or accumulated over windows of W consecutive
/// batches (the realized change of the window against the sum of its W exact steps, each computed on
/// the weights the arrays held at its batch) — summarized per layer with a 95 % interval over
/// windows; and the error budget (`--ablate`): the same probe with every non-ideality off, then each
/// one alone.
///
/// One batch's update is often far below a device step, so it is mostly rounding; what decides
/// learning is how much of the *accumulated* update survives, which the window measures.
public enum FidelityRun {
    /// One weight matrix's probe results over the batches: mean and 95 % interval of each metric.
    public struct LayerSummary: Codable, Sendable, Equatable {
        /// Weight matrix name, W<from><to>.
        public var layer: String
        /// Cosine similarity of the realized change and −lr·∇BPTT.
        public var cosine: Interval
        /// Mean over synapses of |a−b| / max(|a|, |b|), realized change a against reference b.
        public var relmse: Interval
        /// Percentage of synapses whose change has the reference's sign.
        public var signAgreement: Interval
        /// ‖realized‖/‖reference‖ (windows whose reference is zero left out; nil if all are).
        public var normRatio: Interval?
        enum CodingKeys: String, CodingKey {
            case layer, cosine, relmse, signAgreement = "sign_agreement", normRatio = "norm_ratio"
        }
    }

    /// The probe of one variant: summaries per weight matrix and the comparisons of every batch.
    public struct Result: Codable, Sendable {
        /// Variant name (`as configured`, or an error-budget variant).
        public var variant: String
        /// Name of the device preset (`none (software)` for ideal weights).
        public var device: String
        /// Nudging strength β the probe ran at.
        public var beta: Double
        /// Number of batches probed (windows × window).
        public var batches: Int
        /// Batches per window: each comparison is of the change accumulated over this many batches.
        public var window: Int
        /// One summary per weight matrix, in connection order.
        public var layers: [LayerSummary]
        /// Per window, one comparison per weight matrix.
        public var perWindow: [[FidelityProbe.Layer]]
        /// The hardware work of the probed updates (nil for software weights).
        public var costs: ArrayCosts?
        enum CodingKeys: String, CodingKey {
            case variant, device, beta, batches, window, layers, perWindow = "per_window", costs
        }

        /// Mean cosine over layers (one number per variant for the error budget).
        public var meanCosine: Double { layers.map(\.cosine.mean).reduce(0, +) / Double(max(layers.count, 1)) }
    }

    /// Runs `batches` EP steps from `parameters` on the first batches of a seeded order of `data`, on
    /// the model of `spec` (fully connected or P-conv) with ideal weights or on crossbars of `device`,
    /// compared in windows of `window` batches (⌊batches/window⌋ windows).
    public static func run(
        spec: NetworkSpec, device: DeviceSpec?, parameters: Parameters<Float>, data: LabeledImages,
        batches: Int, window: Int = 1, seed: UInt64, variant: String = "as configured"
    ) -> Result {
        let conv = spec.kind == .convolutional
        if let d = device {
            let arrays = CrossbarArray.arrays(for: parameters, device: d, seed: seed)
            if conv {
                var net = ConvNet(spec: spec, arrays: arrays, biases: parameters.biases)
                return probe(
                    &net, data: data, batches: batches, window: window, seed: seed, variant: variant, device: d.name)
            }
            var net = Network(spec: spec, arrays: arrays, biases: parameters.biases)
            return probe(
                &net, data: data, batches: batches, window: window, seed: seed, variant: variant, device: d.name)
        }
        if conv {
            var net = IdealConvNet<Float>(spec: spec, parameters: parameters)
            return probe(
                &net, data: data, batches: batches, window: window, seed: seed, variant: variant,
                device: "none (software)")
        }
        var net = IdealNetwork<Float>(spec: spec, parameters: parameters)
        return probe(
            &net, data: data, batches: batches, window: window, seed: seed, variant: variant, device: "none (software)")
    }

    /// Runs EP steps on `net` (any model, any arrays) on the first batches of a seeded order of
    /// `data`, in ⌊batches/window⌋ windows of `window` batches: the change the arrays made over each
    /// window against the sum of the window's exact gradient steps, each computed on the weights the
    /// arrays held at its batch. The arrays' reads go on in simulated time from batch to batch, with
    /// the streams of epoch 0.
    public static func probe<M: EPModel>(
        _ net: inout M, data: LabeledImages, batches: Int, window: Int = 1, seed: UInt64,
        variant: String = "as configured", device: String
    ) -> Result where M.Array.Scalar == Float {
        precondition(window >= 1, "window must be ≥ 1")
        let clock = ReadClock(lane: 0, epoch: 0)
        let spec = net.spec
        let batcher = Batcher(data, batchSize: spec.batchSize)
        let order = batcher.order(epoch: 0, seed: seed)
        let costsBefore = net.arrays.reduce(ArrayCosts()) { $0 + $1.costs }
        var per: [[FidelityProbe.Layer]] = []
        let windows = min(batches, batcher.batchCount) / window
        for w in 0..<windows {
            let before = net.weights
            var reference: [[Double]] = []
            for b in (w * window)..<((w + 1) * window) {
                let idx = order[(b * spec.batchSize)..<min((b + 1) * spec.batchSize, order.count)]
                let (x, y, _) = batcher.batch(idx, as: Float.self)
                FidelityProbe.accumulate(net.referenceStep(x: x, y: y), into: &reference)
                let ctx = net.context(x: x, y: y, clock: clock, neuronNoise: nil)
                net.applyEP([(ctx, net.phases(ctx, sign: 1))], batchSize: x.rows)
            }
            per.append(FidelityProbe.compare(spec: spec, before: before, after: net.weights, reference: reference))
        }
        let layers = spec.connections.indices.map { ci in
            let ratios = per.compactMap { $0[ci].normRatio }
            return LayerSummary(
                layer: per.first?[ci].layer ?? GDU.weightName(spec.connections[ci]),
                cosine: Interval(per.map { $0[ci].cosine }), relmse: Interval(per.map { $0[ci].relmse }),
                signAgreement: Interval(per.map { $0[ci].signAgreement }),
                normRatio: ratios.isEmpty ? nil : Interval(ratios))
        }
        let costs =
            net.arrays.allSatisfy(\.updatesAreExact)
            ? nil : net.arrays.reduce(ArrayCosts()) { $0 + $1.costs } - costsBefore
        return Result(
            variant: variant, device: device, beta: spec.beta, batches: per.count * window, window: window,
            layers: layers,
            perWindow: per, costs: costs)
    }

    /// The error-budget variants of a device: (name, device or nil for software weights, β multiplier).
    ///
    /// "all off" is software EP at β/100 (nearly the exact gradient); "finite β" is software EP at the
    /// model's β; every other variant has that β and exactly one non-ideality of the preset switched on,
    /// on an otherwise ideal array (read-path items) or on a fine-grained linear device (device items:
    /// steps of 1e-4 of the range, stochastic rounding). Variants the preset does not have are omitted.
    public static func ablationVariants(_ d: DeviceSpec) -> [(name: String, device: DeviceSpec?, betaScale: Double)] {
        var ideal = DeviceSpec(); ideal.name = d.name; ideal.wMax = d.wMax; ideal.tStep = d.tStep;
        ideal.phaseGap = d.phaseGap
        var fine = ideal
        fine.model = .linearStep; fine.dwMin = 1e-4; fine.programming = .deterministic; fine.rounding = .stochastic
        fine.maxPulses = 100_000; fine.gMin = d.gMin; fine.gMax = d.gMax; fine.mapping = d.mapping
        var out: [(String, DeviceSpec?, Double)] = [("all off (β/100)", nil, 0.01), ("finite β", nil, 1)]
        func add(_ name: String, _ base: DeviceSpec, _ present: Bool, _ f: (inout DeviceSpec) -> Void) {
            guard present else { return }
            var v = base; f(&v); out.append((name, v, 1))
        }
        add("white read noise", ideal, d.whiteNoise > 0) { $0.whiteNoise = d.whiteNoise }
        add("1/f read noise", fine, d.flickerK > 0) {
            $0.flickerK = d.flickerK; $0.flickerGamma = d.flickerGamma
        }
        add("telegraph noise", fine, d.rtnAmplitude > 0) {
            $0.rtnAmplitude = d.rtnAmplitude; $0.rtnTau0 = d.rtnTau0; $0.rtnTau1 = d.rtnTau1
        }
        add("quantization", fine, d.levels > 0) {
            $0.levels = d.levels; $0.rounding = d.rounding
        }
        // The preset's own pulse response, without its noise and variability.
        var own = d
        own.device = own.device.withoutDeviceSpread
        own.c2c = 0; own.dwMinStd = 0; own.writeNoiseStd = 0; own.dwMinStdAdd = 0; own.dwMinStdSlope = 0
        own.stuckMin = 0; own.stuckMax = 0; own.levels = 0; own.dacBits = 0; own.adcBits = 0; own.whiteNoise = 0
        own.flickerK = 0; own.rtnAmplitude = 0
        add("nonlinearity/asymmetry", own, d.model != .ideal) { _ in }
        var linearOwn = own
        linearOwn.device = own.device.linearized
        add("c2c", linearOwn, d.c2c > 0 || d.dwMinStd > 0 || d.writeNoiseStd > 0) {
            $0.c2c = d.c2c; $0.dwMinStd = d.dwMinStd; $0.writeNoiseStd = d.writeNoiseStd;
            $0.dwMinStdAdd = d.dwMinStdAdd; $0.dwMinStdSlope = d.dwMinStdSlope
        }
        add("d2d", linearOwn, d.device.hasDeviceSpread) {
            let spread = d.device
            $0.dwMinDtod = spread.dwMinDtod; $0.upDownDtod = spread.upDownDtod; $0.gammaDtod = spread.gammaDtod;
            $0.nlDtod = spread.nlDtod
            $0.weightMinDtod = spread.weightMinDtod; $0.weightMaxDtod = spread.weightMaxDtod
            $0.gammaUpDtod = spread.gammaUpDtod; $0.gammaDownDtod = spread.gammaDownDtod
            $0.powGammaDtod = spread.powGammaDtod; $0.powUpDownDtod = spread.powUpDownDtod
        }
        add("faults", fine, d.stuckMin + d.stuckMax > 0) {
            $0.stuckMin = d.stuckMin; $0.stuckMax = d.stuckMax
        }
        add("IR drop", fine, d.wireResistance > 0) {
            $0.wireResistance = d.wireResistance; $0.irDropModel = d.irDropModel
        }
        add("DAC", ideal, d.dacBits > 0) {
            $0.dacBits = d.dacBits; $0.dacBound = d.dacBound
        }
        add("ADC", ideal, d.adcBits > 0) {
            $0.adcBits = d.adcBits; $0.adcBound = d.adcBound
        }
        if d.model != .ideal { out.append(("all on", d, 1)) }
        return out.map { (name: $0.0, device: $0.1, betaScale: $0.2) }
    }

    /// The error budget: each variant's loss of cosine (1 − mean cosine over layers), and its share of
    /// the summed losses of the single-non-ideality variants (finite β included).
    public static func ablate(
        spec: NetworkSpec, device: DeviceSpec, parameters: Parameters<Float>, data: LabeledImages,
        batches: Int, window: Int = 1, seed: UInt64, progress: ((String) -> Void)? = nil
    ) -> [Result] {
        ablationVariants(device).map { v in
            progress?(v.name)
            var s = spec
            s.beta = spec.beta * v.betaScale
            return run(
                spec: s, device: v.device, parameters: parameters, data: data, batches: batches, window: window,
                seed: seed, variant: v.name)
        }
    }

}
