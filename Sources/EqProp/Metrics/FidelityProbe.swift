import Foundation

/// How far a realized weight update strays from the exact gradient step (spec ep.md §6,
/// hardware.md §6): the change the arrays actually made on one batch, against −lr·∇^BPTT computed in
/// Double on the weights the arrays held before the update.
///
/// The reference is BPTT truncated to the last K transitions, of the loss L = (1/2B)Σ‖s_L(T) − y‖²:
/// the quantity the GDU theorem says the K-step EP update approaches for EB models and for P models
/// with an identity activation. In the seed's P models the nudge β(y − s_L) is added outside σ while
/// BPTT differentiates through σ at the last transition, so even ideal EP at β → 0 differs from it by
/// a factor 1/σ′(h_L) per output unit: P-1h on software weights gives cosine ≈ 0.92 and norm ratio
/// ≈ 1.8 at β = 0.001. Hardware results are best read against that software baseline.
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
        /// ‖realized‖/‖reference‖: above 1 the hardware moved the weights further than the exact step
        /// (nil when the reference is zero).
        public var normRatio: Double?
        enum CodingKeys: String, CodingKey {
            case layer, cosine, relmse, signAgreement = "sign_agreement", normRatio = "norm_ratio"
        }
    }

    /// Compares realized changes with the reference, per weight matrix.
    public static func compare(
        spec: NetworkSpec, before: [Matrix<Float>], after: [Matrix<Float>], reference: [[Double]]
    ) -> [Layer] {
        spec.connections.enumerated().map { ci, c in
            let realized = (0..<before[ci].count).map { Double(after[ci].storage[$0]) - Double(before[ci].storage[$0]) }
            let a = Agreement(total: realized, reference: reference[ci])
            return Layer(
                layer: GDU.weightName(c), cosine: a.cosine, relmse: a.relmse, signAgreement: a.signAgreement,
                normRatio: a.normRatio)
        }
    }

    /// The reference of a window of batches: the sum of their exact steps, each computed on the
    /// weights the arrays held at its batch (`sum` empty starts a window).
    public static func accumulate(_ step: [[Double]], into sum: inout [[Double]]) {
        if sum.isEmpty { sum = step; return }
        for l in sum.indices { for i in sum[l].indices { sum[l][i] += step[l][i] } }
    }
}

/// A fidelity probe logged during training (`--probe-every N`), one JSON line.
public struct ProbeRecord: Codable, Sendable {
    /// Record type in the log, always `"probe"`.
    public var kind = "probe"
    /// Epoch of the probed batch, counted from 1.
    public var epoch: Int
    /// Index of the probed batch within the epoch, counted from 1 (the first of the window).
    public var batch: Int
    /// Consecutive batches whose accumulated change was compared with the sum of their exact steps.
    public var window: Int
    /// One comparison per weight matrix.
    public var layers: [FidelityProbe.Layer]
    /// The hardware work of the window's updates and of the reads of its phases (nil on software
    /// weights): the cost of one update, per update when the window is 1.
    public var costs: ArrayCosts?
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
