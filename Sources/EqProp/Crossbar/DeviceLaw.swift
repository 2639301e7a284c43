import Foundation

/// Where identical pulses take one device, in normalized conductance u = (G − G_min)/(G_max − G_min).
///
/// A response describes one device after its device-to-device draw; it is noiseless (the array adds
/// cycle-to-cycle noise, clips to [0, 1], snaps to the conductance grid and pins stuck devices).
public protocol PulseResponse: Sendable {
    /// u after `n` potentiating pulses (n ≥ 1, integer-valued) from `u`.
    func potentiated(_ u: Float, pulses n: Float) -> Float
    /// u after `n` depressing pulses (n ≥ 1, integer-valued) from `u`.
    func depressed(_ u: Float, pulses n: Float) -> Float
    /// The device's hard bounds in u: pulses and their noise never take it outside. The default is
    /// the nominal range [0, 1]; devices with device-to-device spread of their bounds (aihwkit's
    /// `w_min_dtod`, `w_max_dtod`) may reach beyond it.
    var lowerBound: Float { get }
    /// Upper hard bound in u (default 1).
    var upperBound: Float { get }
    /// Δu of one pulse in the given direction, the unit of additive cycle-to-cycle noise
    /// (`mult_noise: false`: each pulse adds dw_min_std × this step × ξ). The default is the step
    /// from mid-range, u = ½.
    func unitStep(up: Bool) -> Float
    /// An extra cycle-to-cycle σ per pulse at u, in u, added to the step's own size before the
    /// product with `dw_min_std` (aihwkit ExpStep's `dw_min_std_add` + `dw_min_std_slope`·|w|). Default 0.
    func noiseFloor(at u: Float) -> Float
}

extension PulseResponse {
    /// The nominal range's lower end, u = 0.
    public var lowerBound: Float { 0 }
    /// The nominal range's upper end, u = 1.
    public var upperBound: Float { 1 }
    /// The step from mid-range.
    public func unitStep(up: Bool) -> Float { up ? potentiated(0.5, pulses: 1) - 0.5 : 0.5 - depressed(0.5, pulses: 1) }
    /// No extra noise.
    public func noiseFloor(at u: Float) -> Float { 0 }
}

/// A device law: the pulse response of a device family and its device-to-device variation.
///
/// This is the seam for a device of your own: conform a type, give it to
/// `CrossbarArray(spec:law:weights:seed:layer:)`, and every read-path, programming, variability and
/// fault setting of the `DeviceSpec` applies to it unchanged. The array turns a requested weight
/// change ΔW into pulse counts n = ΔW/(2·w_fs·`meanStep`) (per device of a differential pair) and then
/// asks the law where n pulses take each device.
///
/// The built-in laws are `LinearStepLaw` (aihwkit's LinearStep/ConstantStep), `SoftBoundsLaw`
/// (aihwkit's SoftBounds) and `ExponentialLaw` (NeuroSim's exponential LTP/LTD).
public protocol DeviceLaw: Sendable {
    associatedtype Device: PulseResponse
    /// Mean conductance change of one pulse near mid-range, as a fraction of the range: the unit in
    /// which pulse counts are computed.
    var meanStep: Double { get }
    /// Whether devices differ from each other. Without spread, the first device drawn is shared by the
    /// whole array (one response instead of one per device).
    var hasDeviceSpread: Bool { get }
    /// Draws one device (its device-to-device variation) from `rng`, the array's `…/d2d` stream.
    func sampleDevice(using rng: inout RandomStream) -> Device
}

/// The response of the built-in laws: every one relaxes geometrically toward a fixed point, so n
/// pulses are applied in closed form, u_n = u* − (u* − u₀)·ρⁿ.
///
/// Exponential (NeuroSim): u = B(1 − e^{−P/A}) along the pulse number P, so u* = B, ρ = e^{−1/A}.
/// Linear step with soft bound (aihwkit): u ← u + s(1 − γu), so u* = 1/γ, ρ = 1 − sγ. With ρ = 1
/// (γ = 0, or an infinite A) the step is linear: u_n = u₀ + n·s. Depression mirrors potentiation on
/// the distance from the top, 1 − u.
public struct GeometricResponse: PulseResponse, Equatable {
    /// Step of one pulse from the bottom (up) and from the top (down), fraction of the range.
    public var stepUp: Float, stepDown: Float
    /// Fixed points u* of potentiation and (on 1 − u) of depression.
    public var fixedUp: Float, fixedDown: Float
    /// Per-pulse factors ρ; 1 means a linear step.
    public var rhoUp: Double, rhoDown: Double
    /// The device's hard bounds in u.
    public var lowerBound: Float, upperBound: Float

    /// A response from its steps, fixed points, per-pulse factors and hard bounds.
    public init(
        stepUp: Float, stepDown: Float, fixedUp: Float, fixedDown: Float, rhoUp: Double, rhoDown: Double,
        lowerBound: Float = 0, upperBound: Float = 1
    ) {
        self.stepUp = stepUp; self.stepDown = stepDown; self.fixedUp = fixedUp; self.fixedDown = fixedDown
        self.rhoUp = rhoUp; self.rhoDown = rhoDown; self.lowerBound = lowerBound; self.upperBound = upperBound
    }

    /// Δu of one pulse from the bottom (up) or the top (down) of the nominal range: the step of a
    /// linear response, and the unit of additive cycle-to-cycle noise.
    public func unitStep(up: Bool) -> Float { up ? stepUp : stepDown }

    /// u after n pulses of potentiation, given `decay` = ρ_upⁿ (tabulated by the array).
    @inline(__always)
    public func potentiated(_ u: Float, pulses n: Float, decay: Float) -> Float {
        rhoUp == 1 ? u + n * stepUp : fixedUp - (fixedUp - u) * decay
    }

    /// u after n pulses of depression, given `decay` = ρ_downⁿ.
    @inline(__always)
    public func depressed(_ u: Float, pulses n: Float, decay: Float) -> Float {
        rhoDown == 1 ? u - n * stepDown : 1 - (fixedDown - (fixedDown - (1 - u)) * decay)
    }

    /// u after n potentiating pulses, with the decay ρ_upⁿ computed here.
    public func potentiated(_ u: Float, pulses n: Float) -> Float {
        potentiated(u, pulses: n, decay: Self.decay(rhoUp, n))
    }

    /// u after n depressing pulses, with the decay ρ_downⁿ computed here.
    public func depressed(_ u: Float, pulses n: Float) -> Float {
        depressed(u, pulses: n, decay: Self.decay(rhoDown, n))
    }

    /// ρⁿ as a Float: by repeated squaring for whole pulse counts (what programming produces), else `pow`.
    @inline(__always) static func decay(_ rho: Double, _ n: Float) -> Float {
        if let k = wholeCount(n) { return Float(integerPower(rho, k)) }
        return Float(Double.pow(rho, Double(n)))
    }

    /// n as an Int when it is a whole number in 0 ..< 2³⁰, else nil: `Int(exactly:)` for pulse counts,
    /// without its generic path (which costs more than the response it guards).
    @inline(__always) static func wholeCount(_ n: Float) -> Int? {
        guard n >= 0 && n < 0x1p30 else { return nil }
        let k = Int(n)
        return Float(k) == n ? k : nil
    }

    /// xᵏ by repeated squaring in Double: a few multiplies where `pow` costs tens of nanoseconds, for the
    /// per-device responses whose ρⁿ cannot be tabulated. Its error, O(log k) ulps of a Double, is far below
    /// a Float's resolution, so the Float it rounds to is `pow`'s but in rare ties.
    @inline(__always) static func integerPower(_ x: Double, _ k: Int) -> Double {
        // k < 4 (most updates), without branches on k: the loop's products, in its order.
        if k < 4 { return (k & 1 != 0 ? x : 1) * (k & 2 != 0 ? x * x : 1) }
        var result = 1.0, base = x, e = k
        while e > 0 {
            if e & 1 == 1 { result *= base }
            e >>= 1
            if e > 0 { base *= base }
        }
        return result
    }
}

/// The step of aihwkit's LinearStep and SoftBounds devices with its device-to-device draws:
/// s⁺ = dw_min·(1 + dw_min_dtod·ξ₁)·(1 + up_down + up_down_dtod·ξ₂), s⁻ the same with 1 − up_down.
/// Returns (scale, up_down) with the draws; the ξ come from `rng` in this order.
@inline(__always)
private func drawStep(dwMinDtod: Double, upDown: Double, upDownDtod: Double, _ rng: inout RandomStream) -> (
    Double, Double
) {
    let scale = max(0, 1 + dwMinDtod * rng.normal())
    return (scale, upDown + upDownDtod * rng.normal())
}

private func stepResponse(dwMin: Double, scale: Double, upDown ud: Double, gammaUp gu: Double, gammaDown gd: Double)
    -> GeometricResponse
{
    let su = dwMin * scale * max(0, 1 + ud), sd = dwMin * scale * max(0, 1 - ud)
    return GeometricResponse(
        stepUp: Float(su), stepDown: Float(sd),
        fixedUp: gu > 0 ? Float(1 / gu) : 1, fixedDown: gd > 0 ? Float(1 / gd) : 1,
        rhoUp: gu > 0 ? max(1 - su * gu, 0) : 1, rhoDown: gd > 0 ? max(1 - sd * gd, 0) : 1)
}

/// aihwkit's LinearStep: up Δu = s⁺(1 − γ⁺u), down Δu = −s⁻(1 − γ⁻(1 − u)); γ = 0 is ConstantStep.
/// γ± are drawn per device with σ = `gammaDtod` and clipped to [0, 1].
public struct LinearStepLaw: DeviceLaw {
    /// Mean step (fraction of the range), up/down asymmetry, and their device-to-device σ.
    public var dwMin: Double, upDown: Double, dwMinDtod: Double, upDownDtod: Double
    /// Soft-bound slopes γ⁺, γ⁻ and their device-to-device σ.
    public var gammaUp: Double, gammaDown: Double, gammaDtod: Double

    /// A LinearStep law from aihwkit's parameters; the defaults give a symmetric constant step
    /// without device spread.
    public init(
        dwMin: Double, upDown: Double = 0, dwMinDtod: Double = 0, upDownDtod: Double = 0,
        gammaUp: Double = 0, gammaDown: Double = 0, gammaDtod: Double = 0
    ) {
        self.dwMin = dwMin; self.upDown = upDown; self.dwMinDtod = dwMinDtod; self.upDownDtod = upDownDtod
        self.gammaUp = gammaUp; self.gammaDown = gammaDown; self.gammaDtod = gammaDtod
    }
    /// `dw_min`: the nominal step of one pulse.
    public var meanStep: Double { dwMin }
    /// True when the step, the asymmetry or γ has a device-to-device σ.
    public var hasDeviceSpread: Bool { dwMinDtod > 0 || upDownDtod > 0 || gammaDtod > 0 }
    /// Draws one device's step scale, asymmetry and γ± (clipped to [0, 1]).
    public func sampleDevice(using rng: inout RandomStream) -> GeometricResponse {
        let (scale, ud) = drawStep(dwMinDtod: dwMinDtod, upDown: upDown, upDownDtod: upDownDtod, &rng)
        let gu = min(max(gammaUp + gammaDtod * rng.normal(), 0), 1)
        let gd = min(max(gammaDown + gammaDtod * rng.normal(), 0), 1)
        return stepResponse(dwMin: dwMin, scale: scale, upDown: ud, gammaUp: gu, gammaDown: gd)
    }
}

/// aihwkit's SoftBounds: the linear step with γ⁺ = γ⁻ = 1, so the step vanishes at the bounds.
public struct SoftBoundsLaw: DeviceLaw {
    /// Mean step (fraction of the range), up/down asymmetry, and their device-to-device σ.
    public var dwMin: Double, upDown: Double, dwMinDtod: Double, upDownDtod: Double

    /// A SoftBounds law from aihwkit's parameters; the defaults give a symmetric device without spread.
    public init(dwMin: Double, upDown: Double = 0, dwMinDtod: Double = 0, upDownDtod: Double = 0) {
        self.dwMin = dwMin; self.upDown = upDown; self.dwMinDtod = dwMinDtod; self.upDownDtod = upDownDtod
    }
    /// `dw_min`: the nominal step of one pulse.
    public var meanStep: Double { dwMin }
    /// True when the step or the asymmetry has a device-to-device σ.
    public var hasDeviceSpread: Bool { dwMinDtod > 0 || upDownDtod > 0 }
    /// Draws one device's step scale and asymmetry; γ⁺ = γ⁻ = 1.
    public func sampleDevice(using rng: inout RandomStream) -> GeometricResponse {
        let (scale, ud) = drawStep(dwMinDtod: dwMinDtod, upDown: upDown, upDownDtod: upDownDtod, &rng)
        return stepResponse(dwMin: dwMin, scale: scale, upDown: ud, gammaUp: 1, gammaDown: 1)
    }
}

/// NeuroSim's exponential LTP/LTD: G(P) = B(1 − e^{−P/A}) + G_min along the pulse number P, with A
/// solved from the nonlinearity label (`NonlinearityLabel`) and B such that P_max = `pulses` pulses
/// span the range. The label is drawn per device with σ = `nlDtod` (clipped to [0, labelScale)).
public struct ExponentialLaw: DeviceLaw {
    /// Pulses P_max across the range, NL labels of potentiation and depression, and the
    /// device-to-device σ of the label.
    public var pulses: Int, nlLtp: Double, nlLtd: Double, nlDtod: Double

    /// An exponential law from NeuroSim's parameters (`pulses`, `nl_ltp`, `nl_ltd`, `nl_dtod`).
    public init(pulses: Int, nlLtp: Double, nlLtd: Double, nlDtod: Double = 0) {
        self.pulses = pulses; self.nlLtp = nlLtp; self.nlLtd = nlLtd; self.nlDtod = nlDtod
    }
    /// 1/P_max: the average step of one pulse over a full sweep.
    public var meanStep: Double { 1 / Double(pulses) }
    /// True when the NL label has a device-to-device σ.
    public var hasDeviceSpread: Bool { nlDtod > 0 }
    /// Draws one device's NL labels and solves A and B of its potentiation and depression curves.
    public func sampleDevice(using rng: inout RandomStream) -> GeometricResponse {
        let p = Double(pulses)
        /// (u*, ρ) = (B, e^{−1/A}) with A in pulses and B = 1/(1 − e^{−P_max/A}), so u(P_max) = 1.
        func curve(_ nl: Double) -> (Float, Double) {
            let label =
                nlDtod > 0
                ? min(max(abs(nl) + nlDtod * rng.normal(), 0), NonlinearityLabel.labelScale * 0.999) : abs(nl)
            let a = NonlinearityLabel.normalizedA(label: label) * p
            if !a.isFinite { return (1, 1) }
            return (Float(1 / -expm1(-p / a)), Double.exp(-1 / a))
        }
        let (bu, ru) = curve(nlLtp), (bd, rd) = curve(nlLtd)
        return GeometricResponse(
            stepUp: Float(1 / p), stepDown: Float(1 / p), fixedUp: bu, fixedDown: bd, rhoUp: ru, rhoDown: rd)
    }
}

extension DeviceSpec {
    /// The device law of this preset's `model` (nil for `ideal`, whose weights are stored exactly).
    public var law: (any DeviceLaw)? { device.law }
}

extension DeviceParameters {
    /// The device law of `model` (nil for `ideal`, whose weights are stored exactly).
    public var law: (any DeviceLaw)? {
        switch model {
        case .ideal: return nil
        case .linearStep:
            return LinearStepLaw(
                dwMin: dwMin, upDown: upDown, dwMinDtod: dwMinDtod, upDownDtod: upDownDtod,
                gammaUp: gammaUp, gammaDown: gammaDown, gammaDtod: gammaDtod)
        case .softBounds:
            return SoftBoundsLaw(dwMin: dwMin, upDown: upDown, dwMinDtod: dwMinDtod, upDownDtod: upDownDtod)
        case .exponential: return ExponentialLaw(pulses: pulses, nlLtp: nlLtp, nlLtd: nlLtd, nlDtod: nlDtod)
        case .aihwkitLinearStep:
            return AihwkitLinearStepLaw(
                pulsed: aihwkitPulsed, gammaUp: gammaUp, gammaDown: gammaDown, gammaUpDtod: gammaUpDtod,
                gammaDownDtod: gammaDownDtod, meanBoundReference: meanBoundReference)
        case .aihwkitSoftBounds: return AihwkitLinearStepLaw.softBounds(aihwkitPulsed)
        case .aihwkitExpStep:
            return AihwkitExpStepLaw(
                pulsed: aihwkitPulsed, aUp: expAUp, aDown: expADown, gammaUp: expGammaUp, gammaDown: expGammaDown,
                a: expA, b: expB, stdAdd: dwMinStdAdd, stdSlope: dwMinStdSlope)
        case .aihwkitPowStep:
            return AihwkitPowStepLaw(
                pulsed: aihwkitPulsed, gamma: powGamma, gammaDtod: powGammaDtod, upDown: powUpDown,
                upDownDtod: powUpDownDtod)
        case .aihwkitPiecewiseStep: return PiecewiseStepLaw(pulsed: aihwkitPulsed, up: piecewiseUp, down: piecewiseDown)
        }
    }
}
