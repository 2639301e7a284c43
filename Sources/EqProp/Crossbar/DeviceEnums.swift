import Foundation

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
    /// aihwkit's LinearStepDevice (ConstantStep with γ = 0), in its weight units (`weight_min`, `weight_max`).
    case aihwkitLinearStep = "aihwkit-linear-step"
    /// aihwkit's SoftBoundsDevice: γ = 1 at each device's own bounds, in its weight units.
    case aihwkitSoftBounds = "aihwkit-soft-bounds"
    /// aihwkit's ExpStepDevice, in its weight units.
    case aihwkitExpStep = "aihwkit-exp-step"
    /// aihwkit's PowStepDevice, in its weight units.
    case aihwkitPowStep = "aihwkit-pow-step"
    /// aihwkit's PiecewiseStepDevice (a user-given step curve), in its weight units.
    case aihwkitPiecewiseStep = "aihwkit-piecewise-step"

    /// Whether the model is one of aihwkit's devices, whose parameters are in weight units.
    public var isAihwkit: Bool { rawValue.hasPrefix("aihwkit-") }
}

/// Rounding of pulse counts and of conductances onto the grid: to the nearest value, or stochastically.
public enum Rounding: String, Codable, Sendable, CaseIterable { case nearest, stochastic }
/// How a requested weight update is turned into device pulses.
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
    /// Two potentiation-only devices per weight, W = w_fs·(u⁺ − u⁻) (aihwkit's `OneSidedUnitCell`,
    /// PCM's usual pair): raising W potentiates G⁺, lowering it potentiates G⁻; when both have
    /// climbed (`refresh_upper`, `refresh_lower`) the pair is reset and its difference written back.
    case oneSided = "one-sided"
}

/// How the contrastive EP update (nudged minus free) is programmed onto the array.
public enum UpdateScheme: String, Codable, Sendable, CaseIterable {
    /// Every update is programmed into the devices as it comes (`programming`).
    case direct
    /// Mixed precision (Nandakumar et al., Front. Neurosci. 2020; aihwkit `MixedPrecisionCompound`):
    /// updates accumulate in a digital matrix χ; a device is pulsed only where |χ| reaches
    /// `transfer_threshold` device steps, and χ keeps the remainder.
    case mixedPrecision = "mixed-precision"
    /// Tiki-Taka (Gokmen & Haensch, Front. Neurosci. 2020; aihwkit `TransferCompound`): updates go
    /// to a fast array A, W = γ·A + C; every `transfer_every` updates, `transfer_columns` columns of A
    /// are read through the read path and moved into the slow array C as pulses.
    case tikiTaka = "tiki-taka"
    /// Tiki-Taka v2 (Gokmen, Front. Artif. Intell. 2021): as `tiki-taka`, but the columns read from A
    /// accumulate in a digital buffer H, and C is pulsed only where |H| reaches `transfer_threshold`
    /// device steps (H keeps the remainder, rounded as `transfer_rounding` says).
    case tikiTakaV2 = "tiki-taka-v2"

    /// Whether the scheme is a Tiki-Taka variant (a fast and a slow array).
    public var isTikiTaka: Bool { self == .tikiTaka || self == .tikiTakaV2 }
}
/// How IR drop is computed (`ir_drop_model`).
public enum IRDropModel: String, Codable, Sendable, CaseIterable {
    /// To first order in the wire resistance: I = G·x − r·M·x (`CrossbarCircuit.firstOrderKernel`).
    case firstOrder = "first-order"
    /// The nodal equations of the whole array, solved per input vector (`CrossbarCircuit.currents`).
    case exact
}

/// How mixed precision (and Tiki-Taka v2's buffer) turns |χ| (in device steps) into a pulse count.
public enum TransferRounding: String, Codable, Sendable, CaseIterable {
    /// ⌊|χ|⌋ pulses; the fraction stays in χ.
    case truncate
    /// ⌊|χ|⌋ or ⌈|χ|⌉ pulses with the fraction as the probability (unbiased); χ keeps what was not sent.
    case stochastic
}
/// How the contrastive EP update is programmed.
public enum UpdatePasses: String, Codable, Sendable, CaseIterable {
    /// The contrastive EP update as two programming passes (nudged +, free −).
    case two
    /// One pass of the difference, computed in the periphery.
    case one
}

/// NeuroSim's nonlinearity label ↔ the A of G(P) = B(1 − e^{−P/A}) + G_min.
///
/// On the normalized curve f(x) = (1 − e^{−x/a})/(1 − e^{−1/a}), x = P/P_max, a = A/P_max, the label is
/// NL = c·max_x (f(x) − x) with c = 10.1 (NeuroSim's manual: "NL ≈ 10.1 × the largest deviation from
/// linear"). The maximizer solves f′(x) = 1: x* = −a·ln(a(1 − e^{−1/a})). D(a) = f(x*) − x* falls
/// strictly from 1 to 0 as a grows, so A is found by bisection on ln a, not read from a table.
public enum NonlinearityLabel {
    /// NeuroSim's factor c = 10.1 between the label NL and the largest deviation from linear.
    public static let labelScale = 10.1

    /// Largest deviation of the normalized curve from the straight line, for A/P_max = a.
    public static func deviation(a: Double) -> Double {
        let d = -expm1(-1 / a)  // 1 − e^{−1/a}
        let x = min(max(-a * log(a * d), 0), 1)
        return -expm1(-x / a) / d - x
    }

    /// A/P_max for a label (sign ignored); +∞ for NL = 0 (linear device).
    public static func normalizedA(label nl: Double) -> Double {
        let target = abs(nl) / labelScale
        if target == 0 { return .infinity }
        precondition(target < 1, "|NL| must be < \(labelScale)")
        var lo = log(1e-6), hi = log(1e8)  // D(lo) > target > D(hi)
        for _ in 0..<64 {  // the bracket (width 32 in ln a) shrinks to ~2e-18
            let mid = (lo + hi) / 2
            if deviation(a: exp(mid)) > target { lo = mid } else { hi = mid }
        }
        return exp((lo + hi) / 2)
    }
}
