import Foundation

/// How far a realized weight update strays from the exact gradient step (spec ep.md §6,
/// hardware.md §6): the change the arrays actually made on one batch, against −lr·∇^BPTT computed in
/// Double on the weights the arrays held before the update.
///
/// The reference is BPTT truncated to the last K transitions (the quantity the GDU theorem says the
/// K-step EP update approaches), of the loss L = (1/2B)Σ‖s_L(T) − y‖².
public enum FidelityProbe {
    /// One weight matrix: realized change against the reference step.
    public struct Layer: Codable, Sendable, Equatable {
        /// Weight matrix name, W<from><to> (`GDU.weightName`).
        public var layer: String
        /// Cosine similarity of the realized change and the reference.
        public var cosine: Double
        /// Mean over synapses of |a−b| / max(|a|, |b|), a the realized change and b the reference.
        public var relmse: Double
        /// Percentage of synapses (not zero in both) whose change has the reference's sign.
        public var signAgreement: Double
        enum CodingKeys: String, CodingKey { case layer, cosine, relmse, signAgreement = "sign_agreement" }
    }

    /// Compares realized changes with the reference, per weight matrix.
    public static func compare(spec: NetworkSpec, before: [Matrix<Float>], after: [Matrix<Float>], reference: [[Double]]) -> [Layer] {
        spec.connections.enumerated().map { ci, c in
            let realized = (0..<before[ci].count).map { Double(after[ci].storage[$0]) - Double(before[ci].storage[$0]) }
            let a = Agreement(total: realized, reference: reference[ci])
            return Layer(layer: GDU.weightName(c), cosine: a.cosine, relmse: a.relmse, signAgreement: a.signAgreement)
        }
    }
}

/// A fidelity probe logged during training (`--probe-every N`), one JSON line.
public struct ProbeRecord: Codable, Sendable {
    /// Record type in the log, always `"probe"`.
    public var kind = "probe"
    /// Epoch of the probed batch, counted from 1.
    public var epoch: Int
    /// Index of the probed batch within the epoch, counted from 1.
    public var batch: Int
    /// One comparison per weight matrix.
    public var layers: [FidelityProbe.Layer]
}

/// Mean and 95 % interval over batches.
public struct Interval: Codable, Sendable, Equatable {
    /// Sample mean.
    public var mean: Double
    /// Lower end of the interval, mean − 1.96·sd/√n.
    public var low: Double
    /// Upper end of the interval, mean + 1.96·sd/√n.
    public var high: Double
    /// Mean and normal-approximation 95 % interval of `v` (sd the sample standard deviation);
    /// zero width for fewer than two values.
    public init(_ v: [Double]) {
        let n = Double(v.count)
        let m = v.reduce(0, +) / max(n, 1)
        let sd = n > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot() : 0
        let h = 1.96 * sd / max(n, 1).squareRoot()
        mean = m; low = m - h; high = m + h
    }
}
