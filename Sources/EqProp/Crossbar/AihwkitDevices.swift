import Foundation

/// aihwkit's weight units and this project's normalized conductance: the one place they meet.
///
/// aihwkit describes a device by its weight w, bounded on average by [w_min, w_max] (here
/// `weight_min`, `weight_max`), with its steps (`dw_min`), bounds and noise in the same units. This
/// project holds the normalized conductance u = (G − G_min)/(G_max − G_min), with G_min ↔ w_min and
/// G_max ↔ w_max of the *mean* device:
///
///     u = (w − w_min)/R,   w = w_min + R·u,   R = w_max − w_min.
///
/// A step Δw is a step Δw/R in u. A device whose own bounds b_min, b_max differ from the mean ones
/// (`weight_min_dtod`, `weight_max_dtod`) has hard bounds (b − w_min)/R in u, below 0 or above 1
/// when they are wider than the mean. aihwkit references its LinearStep slopes to w = 0, the point
/// u₀ = −w_min/R, which is why its γ cannot be copied into a conductance-referenced law unchanged.
public struct WeightUnits: Sendable, Equatable {
    /// The mean bounds w_min ≤ 0 ≤ w_max, in weight units.
    public var min: Double, max: Double
    /// The units of a preset: its `weight_min` and `weight_max`.
    public init(min: Double, max: Double) { self.min = min; self.max = max }
    /// R = w_max − w_min, the weight span of the nominal conductance range.
    public var range: Double { max - min }
    /// Normalized conductance of weight w.
    public func u(_ w: Double) -> Double { (w - min) / range }
    /// Weight of normalized conductance u.
    public func w(_ u: Double) -> Double { min + range * u }
}

/// The device-to-device draws every aihwkit pulsed device makes (aihwkit's `PulsedDevice`), in
/// weight units: the step of each direction and the two hard bounds.
///
/// Step: g = 1 + dw_min_dtod·ξ₁, r = up_down_dtod·ξ₂; s⁺ = |g + min(up_down, 0) + r|·dw_min and
/// s⁻ = |g − max(up_down, 0) − r|·dw_min (an asymmetry shrinks the weaker direction; it never
/// enlarges the stronger one). Bounds: b_max = w_max(1 + w_max_dtod·ξ₃), b_min = w_min(1 + w_min_dtod·ξ₄),
/// swapped if crossed, then b_max = |b_max|, b_min = −|b_min| (aihwkit's `enforce_consistency`, on by
/// default). The four ξ are drawn in this order for every device.
public struct AihwkitPulsedParameters: Sendable, Equatable {
    /// `dw_min`, `dw_min_dtod` (relative), `up_down`, `up_down_dtod` (absolute, in units of dw_min).
    public var dwMin: Double, dwMinDtod: Double, upDown: Double, upDownDtod: Double
    /// The mean bounds (weight units) and their relative device-to-device σ.
    public var units: WeightUnits, wMinDtod: Double, wMaxDtod: Double

    /// The pulsed-device parameters of a preset.
    public init(
        dwMin: Double, dwMinDtod: Double = 0, upDown: Double = 0, upDownDtod: Double = 0,
        units: WeightUnits, wMinDtod: Double = 0, wMaxDtod: Double = 0
    ) {
        self.dwMin = dwMin; self.dwMinDtod = dwMinDtod; self.upDown = upDown; self.upDownDtod = upDownDtod
        self.units = units; self.wMinDtod = wMinDtod; self.wMaxDtod = wMaxDtod
    }

    /// Whether any of the pulsed-device draws has a spread.
    public var hasSpread: Bool { dwMinDtod > 0 || upDownDtod > 0 || wMinDtod > 0 || wMaxDtod > 0 }

    /// One device's steps s⁺, s⁻ and bounds b_min, b_max (weight units).
    public func draw(using rng: inout RandomStream) -> (
        stepUp: Double, stepDown: Double, boundMin: Double, boundMax: Double
    ) {
        let g = 1 + dwMinDtod * rng.normal(), r = upDownDtod * rng.normal()
        let up = abs((g + Swift.min(upDown, 0) + r) * dwMin), down = abs((g - Swift.max(upDown, 0) - r) * dwMin)
        var bMax = units.max * (1 + wMaxDtod * rng.normal()), bMin = units.min * (1 + wMinDtod * rng.normal())
        if bMin > bMax { swap(&bMin, &bMax) }
        return (up, down, -abs(bMin), abs(bMax))
    }
}

/// aihwkit's LinearStep device (and, with γ = 1 referenced to each device's own bounds, its
/// SoftBounds device), in aihwkit's weight units.
///
/// Per pulse: up w ← w + s⁺(1 − γ⁺·w/ref⁺), down w ← w − s⁻(1 − γ⁻·w/ref⁻), then clipped to the
/// device's [b_min, b_max]. γ± = |γ± + γ±_dtod·ξ| per device; ref± are the mean bounds w_max, w_min
/// (`mean_bound_reference`, aihwkit's default) or the device's own b_max, b_min. Each direction is
/// affine in w, so n pulses have a closed form: geometric relaxation toward w* = ref/γ with factor
/// ρ = 1 − γ·s/|ref| per pulse, converted here to u (`GeometricResponse`). As in aihwkit the step is
/// not floored at zero: a device whose bound lies beyond w* moves back toward w* near that bound.
public struct AihwkitLinearStepLaw: DeviceLaw {
    /// The pulsed-device parameters (steps and bounds with their spreads).
    public var pulsed: AihwkitPulsedParameters
    /// Slopes γ⁺, γ⁻ and their absolute device-to-device σ.
    public var gammaUp: Double, gammaDown: Double, gammaUpDtod: Double, gammaDownDtod: Double
    /// Whether the slopes are referenced to the mean bounds (true) or to each device's own bounds.
    public var meanBoundReference: Bool

    /// A LinearStep law from aihwkit's parameters.
    public init(
        pulsed: AihwkitPulsedParameters, gammaUp: Double = 0, gammaDown: Double = 0, gammaUpDtod: Double = 0,
        gammaDownDtod: Double = 0, meanBoundReference: Bool = true
    ) {
        self.pulsed = pulsed; self.gammaUp = gammaUp; self.gammaDown = gammaDown
        self.gammaUpDtod = gammaUpDtod; self.gammaDownDtod = gammaDownDtod; self.meanBoundReference = meanBoundReference
    }

    /// aihwkit's SoftBounds device: γ⁺ = γ⁻ = 1 without spread, referenced to each device's bounds,
    /// so the step vanishes at the device's own bound.
    public static func softBounds(_ pulsed: AihwkitPulsedParameters) -> AihwkitLinearStepLaw {
        AihwkitLinearStepLaw(pulsed: pulsed, gammaUp: 1, gammaDown: 1, meanBoundReference: false)
    }

    /// dw_min/R: aihwkit's weight granularity of these devices, in u.
    public var meanStep: Double { pulsed.dwMin / pulsed.units.range }
    /// True when a step, bound or slope has a device-to-device σ.
    public var hasDeviceSpread: Bool { pulsed.hasSpread || gammaUpDtod > 0 || gammaDownDtod > 0 }

    /// Draws one device (steps, bounds, then γ⁺ and γ⁻) and converts it to u.
    public func sampleDevice(using rng: inout RandomStream) -> GeometricResponse {
        let d = pulsed.draw(using: &rng), units = pulsed.units, r = units.range
        let gu = abs(gammaUp + gammaUpDtod * rng.normal()), gd = abs(gammaDown + gammaDownDtod * rng.normal())
        let refUp = meanBoundReference ? units.max : d.boundMax, refDown = meanBoundReference ? units.min : d.boundMin
        // Per-pulse relaxation rates γ·s/|ref| (0: a constant step).
        let kUp = refUp != 0 ? gu * d.stepUp / abs(refUp) : 0, kDown = refDown != 0 ? gd * d.stepDown / abs(refDown) : 0
        return GeometricResponse(
            stepUp: Float(d.stepUp / r), stepDown: Float(d.stepDown / r),
            fixedUp: kUp > 0 ? Float(units.u(refUp / gu)) : 1,
            fixedDown: kDown > 0 ? Float(1 - units.u(refDown / gd)) : 1,
            rhoUp: kUp > 0 ? max(1 - kUp, 0) : 1, rhoDown: kDown > 0 ? max(1 - kDown, 0) : 1,
            lowerBound: Float(units.u(d.boundMin)), upperBound: Float(units.u(d.boundMax)))
    }
}

/// One device of a step law without a closed form (aihwkit's ExpStep, PowStep, PiecewiseStep):
/// n pulses are applied one at a time, each clipped to the device's bounds as aihwkit does.
/// Everything is in u; `stepUp`, `stepDown` are the device's s±/R.
public struct StepwiseResponse: PulseResponse {
    /// The law's step-size factor as a function of the state.
    public enum Shape: Sendable {
        /// ExpStep: up y = max(1 − A⁺e^{γ⁺z}, 0), down y = max(1 − A⁻e^{−γ⁻z}, 0), z = zSlope·u + zOffset.
        case exp(aUp: Float, aDown: Float, gammaUp: Float, gammaDown: Float, zSlope: Float, zOffset: Float)
        /// PowStep: up y = ((upper − u)/span)^γ⁺, down y = ((u − lower)/span)^γ⁻.
        case pow(gammaUp: Float, gammaDown: Float)
        /// PiecewiseStep: y linearly interpolated between nodes equally spaced over [lower, upper].
        case piecewise(up: [Float], down: [Float])
    }
    /// The device's s⁺/R and s⁻/R, and its hard bounds in u.
    public var stepUp: Float, stepDown: Float, lowerBound: Float, upperBound: Float
    /// How the step depends on the state.
    public var shape: Shape
    /// ExpStep's extra c2c σ per pulse (before × dw_min_std), in u: add + slope·|u − u₀| with u₀ = −w_min/R.
    public var noiseAdd: Float, noiseSlope: Float, zeroPoint: Float

    /// A device from its converted parameters.
    public init(
        stepUp: Float, stepDown: Float, lowerBound: Float, upperBound: Float, shape: Shape,
        noiseAdd: Float = 0, noiseSlope: Float = 0, zeroPoint: Float = 0
    ) {
        self.stepUp = stepUp; self.stepDown = stepDown; self.lowerBound = lowerBound; self.upperBound = upperBound
        self.shape = shape; self.noiseAdd = noiseAdd; self.noiseSlope = noiseSlope; self.zeroPoint = zeroPoint
    }

    /// The step factor y of one pulse from u.
    @inline(__always)
    func factor(_ u: Float, up: Bool) -> Float {
        let span = upperBound - lowerBound
        switch shape {
        case let .exp(aUp, aDown, gUp, gDown, zSlope, zOffset):
            let z = zSlope * u + zOffset
            return up ? max(1 - aUp * Foundation.exp(gUp * z), 0) : max(1 - aDown * Foundation.exp(-gDown * z), 0)
        case let .pow(gUp, gDown):
            return up
                ? Foundation.pow(max((upperBound - u) / span, 0), gUp)
                : Foundation.pow(max((u - lowerBound) / span, 0), gDown)
        case let .piecewise(vUp, vDown):
            let v = up ? vUp : vDown, n = v.count - 1
            if n == 0 { return v[0] }
            let q = max((u - lowerBound) / span * Float(n), 0)
            let k = min(Int(q), n - 1), t = min(q - Float(k), 1)
            return (1 - t) * v[k] + t * v[k + 1]
        }
    }

    /// u after n up pulses, clipped to the bounds after each (a device without span does not move).
    public func potentiated(_ u: Float, pulses n: Float) -> Float {
        guard upperBound > lowerBound else { return u }
        var v = u
        for _ in 0..<Int(n) { v = min(max(v + stepUp * factor(v, up: true), lowerBound), upperBound) }
        return v
    }
    /// u after n down pulses, clipped to the bounds after each.
    public func depressed(_ u: Float, pulses n: Float) -> Float {
        guard upperBound > lowerBound else { return u }
        var v = u
        for _ in 0..<Int(n) { v = min(max(v - stepDown * factor(v, up: false), lowerBound), upperBound) }
        return v
    }
    /// s⁺/R or s⁻/R.
    public func unitStep(up: Bool) -> Float { up ? stepUp : stepDown }
    /// ExpStep's extra c2c σ per pulse at u (before × dw_min_std), in u.
    public func noiseFloor(at u: Float) -> Float { noiseAdd + noiseSlope * abs(u - zeroPoint) }
}

/// aihwkit's ExpStep device, in its weight units: per pulse Δw = ±s±·y±(z), z = 2a·w/(b_max − b_min) + b,
/// y⁺ = max(1 − A_up·e^{γ_up·z}, 0), y⁻ = max(1 − A_down·e^{−γ_down·z}, 0), with the device's own
/// bounds in z and in the clip. With `dw_min_std_add` or `dw_min_std_slope` the c2c noise of a pulse
/// is dw_min_std·(|Δw| + add + slope·|w|)·ξ (absolute weight units), aihwkit's "complex" noise.
public struct AihwkitExpStepLaw: DeviceLaw {
    /// The pulsed-device parameters (steps and bounds with their spreads).
    public var pulsed: AihwkitPulsedParameters
    /// A_up, A_down, γ_up, γ_down, a, b (aihwkit's names; no device-to-device spread).
    public var aUp: Double, aDown: Double, gammaUp: Double, gammaDown: Double, a: Double, b: Double
    /// Extra c2c terms (absolute weight units and relative to |w|).
    public var stdAdd: Double, stdSlope: Double

    /// An ExpStep law from aihwkit's parameters.
    public init(
        pulsed: AihwkitPulsedParameters, aUp: Double, aDown: Double, gammaUp: Double, gammaDown: Double,
        a: Double, b: Double, stdAdd: Double = 0, stdSlope: Double = 0
    ) {
        self.pulsed = pulsed; self.aUp = aUp; self.aDown = aDown; self.gammaUp = gammaUp; self.gammaDown = gammaDown
        self.a = a; self.b = b; self.stdAdd = stdAdd; self.stdSlope = stdSlope
    }

    /// Mean of the up and down steps of the nominal device at w = 0 (z = b), in u. aihwkit's own
    /// granularity averages the down step with itself; the pulse-count unit here uses both.
    public var meanStep: Double {
        let yUp = max(1 - aUp * Foundation.exp(gammaUp * b), 0),
            yDown = max(1 - aDown * Foundation.exp(-gammaDown * b), 0)
        let s = pulsed.dwMin * (yUp + yDown) / 2
        return (s > 0 ? s : pulsed.dwMin) / pulsed.units.range
    }
    /// True when a step or bound has a device-to-device σ.
    public var hasDeviceSpread: Bool { pulsed.hasSpread }

    /// Draws one device and converts it to u.
    public func sampleDevice(using rng: inout RandomStream) -> StepwiseResponse {
        let d = pulsed.draw(using: &rng), units = pulsed.units, r = units.range
        let span = d.boundMax - d.boundMin
        // z = 2a·w/span + b with w = w_min + R·u.
        let zSlope = span > 0 ? 2 * a * r / span : 0, zOffset = span > 0 ? 2 * a * units.min / span + b : b
        return StepwiseResponse(
            stepUp: Float(d.stepUp / r), stepDown: Float(d.stepDown / r),
            lowerBound: Float(units.u(d.boundMin)), upperBound: Float(units.u(d.boundMax)),
            shape: .exp(
                aUp: Float(aUp), aDown: Float(aDown), gammaUp: Float(gammaUp), gammaDown: Float(gammaDown),
                zSlope: Float(zSlope), zOffset: Float(zOffset)),
            noiseAdd: Float(stdAdd / r), noiseSlope: Float(stdSlope), zeroPoint: Float(units.u(0)))
    }
}

/// aihwkit's PowStep device (Fusi & Abbott 2007): per pulse up Δw = s⁺·((b_max − w)/(b_max − b_min))^γ⁺,
/// down Δw = −s⁻·((w − b_min)/(b_max − b_min))^γ⁻, with γ⁺ = |g + min(pu, 0) + r|·γ,
/// γ⁻ = |g − max(pu, 0) − r|·γ, g = 1 + pow_gamma_dtod·ξ, r = pow_up_down_dtod·ξ, pu = pow_up_down.
public struct AihwkitPowStepLaw: DeviceLaw {
    /// The pulsed-device parameters (steps and bounds with their spreads).
    public var pulsed: AihwkitPulsedParameters
    /// γ, its relative device-to-device σ, its up/down asymmetry and that asymmetry's σ.
    public var gamma: Double, gammaDtod: Double, upDown: Double, upDownDtod: Double

    /// A PowStep law from aihwkit's parameters.
    public init(
        pulsed: AihwkitPulsedParameters, gamma: Double, gammaDtod: Double = 0, upDown: Double = 0,
        upDownDtod: Double = 0
    ) {
        self.pulsed = pulsed; self.gamma = gamma; self.gammaDtod = gammaDtod; self.upDown = upDown;
        self.upDownDtod = upDownDtod
    }
    /// dw_min·0.5^γ/R: the step at mid-range (aihwkit's granularity), in u.
    public var meanStep: Double { pulsed.dwMin * Foundation.pow(0.5, gamma) / pulsed.units.range }
    /// True when a step, bound or exponent has a device-to-device σ.
    public var hasDeviceSpread: Bool { pulsed.hasSpread || gammaDtod > 0 || upDownDtod > 0 }

    /// Draws one device (steps, bounds, then its exponents) and converts it to u.
    public func sampleDevice(using rng: inout RandomStream) -> StepwiseResponse {
        let d = pulsed.draw(using: &rng), units = pulsed.units, r = units.range
        let g = 1 + gammaDtod * rng.normal(), k = upDownDtod * rng.normal()
        let gu = abs((g + min(upDown, 0) + k) * gamma), gd = abs((g - max(upDown, 0) - k) * gamma)
        return StepwiseResponse(
            stepUp: Float(d.stepUp / r), stepDown: Float(d.stepDown / r),
            lowerBound: Float(units.u(d.boundMin)), upperBound: Float(units.u(d.boundMax)),
            shape: .pow(gammaUp: Float(gu), gammaDown: Float(gd)))
    }
}

/// aihwkit's PiecewiseStep device: a user-given step-size curve. `up` and `down` are the step factors
/// at n + 1 nodes equally spaced from the device's b_min to its b_max (b_min and b_max included),
/// linearly interpolated in between: a measured pulse response without a formula.
public struct PiecewiseStepLaw: DeviceLaw {
    /// The pulsed-device parameters (steps and bounds with their spreads).
    public var pulsed: AihwkitPulsedParameters
    /// Step factors of up and down pulses at the nodes (same length ≥ 1).
    public var up: [Double], down: [Double]

    /// A piecewise law from aihwkit's parameters (`piecewise_up`, `piecewise_down`).
    public init(pulsed: AihwkitPulsedParameters, up: [Double], down: [Double]) {
        self.pulsed = pulsed; self.up = up; self.down = down
    }
    /// dw_min times the mean of the middle up and down factors, in u.
    public var meanStep: Double {
        let m = up.count / 2, f = (up[m] + down[m]) / 2
        return pulsed.dwMin * (f > 0 ? f : 1) / pulsed.units.range
    }
    /// True when a step or bound has a device-to-device σ.
    public var hasDeviceSpread: Bool { pulsed.hasSpread }

    /// Draws one device and converts it to u.
    public func sampleDevice(using rng: inout RandomStream) -> StepwiseResponse {
        let d = pulsed.draw(using: &rng), units = pulsed.units, r = units.range
        return StepwiseResponse(
            stepUp: Float(d.stepUp / r), stepDown: Float(d.stepDown / r),
            lowerBound: Float(units.u(d.boundMin)), upperBound: Float(units.u(d.boundMax)),
            shape: .piecewise(up: up.map { Float($0) }, down: down.map { Float($0) }))
    }
}

extension DeviceParameters {
    /// Whether `model` is one of aihwkit's devices, whose parameters are in weight units.
    public var usesWeightUnits: Bool { model.isAihwkit }

    /// The preset's weight units (`weight_min`, `weight_max`).
    public var weightUnits: WeightUnits { WeightUnits(min: weightMin, max: weightMax) }

    /// `dw_min` as a fraction of the nominal conductance range.
    public var dwMinFraction: Double { usesWeightUnits ? dwMin / (weightMax - weightMin) : dwMin }

    /// The aihwkit pulsed-device parameters of this preset.
    var aihwkitPulsed: AihwkitPulsedParameters {
        AihwkitPulsedParameters(
            dwMin: dwMin, dwMinDtod: dwMinDtod, upDown: upDown, upDownDtod: upDownDtod,
            units: weightUnits, wMinDtod: weightMinDtod, wMaxDtod: weightMaxDtod)
    }

    /// The same device without device-to-device spread.
    public var withoutDeviceSpread: DeviceParameters {
        var d = self
        d.dwMinDtod = 0; d.upDownDtod = 0; d.gammaDtod = 0; d.nlDtod = 0
        d.weightMinDtod = 0; d.weightMaxDtod = 0; d.gammaUpDtod = 0; d.gammaDownDtod = 0
        d.powGammaDtod = 0; d.powUpDownDtod = 0
        return d
    }

    /// Whether any device-to-device spread of the pulse response is set (drift's is not one).
    public var hasDeviceSpread: Bool { var d = self; d.driftNuDtod = 0; return d != d.withoutDeviceSpread }

    /// The same device with its step made state-independent (a constant, symmetric step), the
    /// reference of the ablation's c2c and d2d items.
    public var linearized: DeviceParameters {
        var d = self
        switch model {
        case .exponential: d.nlLtp = 0; d.nlLtd = 0
        case .aihwkitExpStep: d.expAUp = 0; d.expADown = 0
        case .aihwkitPowStep: d.powGamma = 0; d.powUpDown = 0
        case .aihwkitPiecewiseStep: d.piecewiseUp = [1]; d.piecewiseDown = [1]
        case .aihwkitSoftBounds: d.model = .aihwkitLinearStep; d.gammaUp = 0; d.gammaDown = 0; d.upDown = 0
        default: d.gammaUp = 0; d.gammaDown = 0; d.upDown = 0
        }
        return d
    }
}
