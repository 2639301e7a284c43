import Foundation

/// How far a realized weight update strays from the exact gradient step (spec ep.md §6,
/// hardware.md §6): the change the arrays actually made on one batch, against −lr·∇^BPTT computed in
/// Double on the weights the arrays held before the update.
///
/// The reference is BPTT truncated to the last K transitions (the quantity the GDU theorem says the
/// K-step EP update approaches), of the loss L = (1/2B)Σ‖s_L(T) − y‖².
public enum FidelityProbe {
    public struct Layer: Codable, Sendable, Equatable {
        public var layer: String
        public var cosine: Double
        public var relmse: Double
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
    public var kind = "probe"
    public var epoch: Int
    public var batch: Int
    public var layers: [FidelityProbe.Layer]
}

/// Mean and 95 % interval over batches.
public struct Interval: Codable, Sendable, Equatable {
    public var mean: Double
    public var low: Double
    public var high: Double
    public init(_ v: [Double]) {
        let n = Double(v.count)
        let m = v.reduce(0, +) / max(n, 1)
        let sd = n > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot() : 0
        let h = 1.96 * sd / max(n, 1).squareRoot()
        mean = m; low = m - h; high = m + h
    }
}
