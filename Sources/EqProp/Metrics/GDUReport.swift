import Foundation

/// Floating-point type a GDU check computes in: `double` or `float`.
public enum Precision: String, Codable, Sendable, CaseIterable { case double, float }

/// The GDU check as run by `xbar gdu`: JSON document and SVG figure.
public struct GDUDocument: Codable, Sendable {
    /// One layer's metrics: the `Agreement` fields flattened next to the layer's name and kind.
    public struct Layer: Codable, Sendable {
        /// Layer name: s1…sL for neurons, W<from><to> for weights.
        public var layer: String
        /// "neurons" or "weights".
        public var kind: String
        /// Agreement of ΔEP with −∇BPTT; its fields are encoded flat, next to `layer`.
        public var agreement: Agreement
        /// ‖ΔEP(t) + ∇BPTT(t)‖/‖∇BPTT(t)‖; null where ∇BPTT(t) ≡ 0.
        public var perStepRelativeError: [Double?]
        enum CodingKeys: String, CodingKey { case layer, kind, perStepRelativeError = "per_step_relative_error" }

        /// A layer entry from its name, kind and metrics.
        public init(layer: String, kind: String, agreement: Agreement, perStepRelativeError: [Double?]) {
            self.layer = layer; self.kind = kind; self.agreement = agreement;
            self.perStepRelativeError = perStepRelativeError
        }
        /// Decodes the flat form: the layer's own keys and the `Agreement` keys in one object.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            layer = try c.decode(String.self, forKey: .layer)
            kind = try c.decode(String.self, forKey: .kind)
            perStepRelativeError = try c.decode([Double?].self, forKey: .perStepRelativeError)
            agreement = try Agreement(from: decoder)
        }
        /// Encodes the flat form: the `Agreement` keys and the layer's own keys in one object.
        public func encode(to encoder: Encoder) throws {
            try agreement.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(layer, forKey: .layer)
            try c.encode(kind, forKey: .kind)
            try c.encode(perStepRelativeError, forKey: .perStepRelativeError)
        }
    }
    /// Per-step series of one component: ΔEP(β,t) and −∇BPTT(t) for t = 0…K−1.
    public struct Series: Codable, Sendable {
        /// Name of the layer the component belongs to.
        public var layer: String
        /// "neurons" or "weights".
        public var kind: String
        /// Flat index: neuron j, or synapse (row·in + col).
        public var index: Int
        /// ΔEP(β,t) for t = 0…K−1.
        public var ep: [Double]
        /// −∇BPTT(t) for t = 0…K−1.
        public var bptt: [Double]
    }
    /// Network name (`NetworkSpec.name`).
    public var model: String
    /// Precision the check ran in.
    public var precision: Precision
    /// Nudging strength β.
    public var beta: Double
    /// Nudging scheme of the nudged phase(s).
    public var nudging: Nudging
    /// Free-phase steps T.
    public var T: Int
    /// Nudged-phase steps K, the length of each series.
    public var K: Int
    /// Examples in the checked batch.
    public var batchSize: Int
    /// Loss of the batch at the free-phase final state s_T.
    public var loss: Double
    /// Largest |s_T − s_{T−1}| of the free phase.
    public var freePhaseResidual: Double
    /// Metrics per neuron layer, then per weight matrix.
    public var layers: [Layer]
    /// Per-step series of the kept components of each layer (largest |total −∇BPTT| first).
    public var series: [Series]
    enum CodingKeys: String, CodingKey {
        case model, precision, beta, nudging, T, K, batchSize = "batch_size", loss
        case freePhaseResidual = "free_phase_residual", layers, series
    }

    /// Builds the document from a report; `perLayer` components with the largest |total BPTT| are kept.
    public init(report r: GDU.Report, spec: NetworkSpec, precision: Precision, batchSize: Int, perLayer: Int = 4) {
        model = spec.name; self.precision = precision; beta = spec.beta; nudging = spec.nudging
        T = spec.T; K = spec.K; self.batchSize = batchSize; loss = r.loss; freePhaseResidual = r.freePhaseResidual
        layers = r.layers.map {
            Layer(
                layer: $0.layer, kind: $0.kind, agreement: $0.agreement, perStepRelativeError: $0.perStepRelativeError)
        }
        series = r.layers.flatMap { l -> [Series] in
            let totals = Agreement.totals(l.bptt)
            let top = totals.indices.sorted { abs(totals[$0]) > abs(totals[$1]) }.prefix(perLayer)
            return top.map { i in
                Series(layer: l.layer, kind: l.kind, index: i, ep: l.ep.map { $0[i] }, bptt: l.bptt.map { $0[i] })
            }
        }
    }

}

extension GDU {
    /// Non-generic entry point: runs the check on ideal weights in the requested precision.
    public static func run(
        spec: NetworkSpec, parameters: Parameters<Double>, x: Matrix<Double>, y: Matrix<Double>, precision: Precision
    ) -> Report {
        if spec.kind == .convolutional {
            switch precision {
            case .double:
                let net = IdealConvNet<Double>(spec: spec, parameters: parameters)
                return net.gdu(net.context(x: x, y: y))
            case .float:
                let net = IdealConvNet<Float>(spec: spec, parameters: parameters.converted())
                return net.gdu(net.context(x: x.converted(), y: y.converted()))
            }
        }
        switch precision {
        case .double:
            return check(IdealNetwork<Double>(spec: spec, parameters: parameters), x: x, y: y)
        case .float:
            return check(
                IdealNetwork<Float>(spec: spec, parameters: parameters.converted()), x: x.converted(), y: y.converted())
        }
    }
}
