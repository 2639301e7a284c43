import Foundation

/// The pulse response of one device, with its device-to-device draws, in normalized conductance
/// u ∈ [0, 1]. Potentiation moves u up, depression down; n pulses are applied in closed form.
struct DeviceResponse {
    /// Per-device parameters (drawn once per array from the d2d stream).
    var stepUp: Float, stepDown: Float
    var gammaUp: Float, gammaDown: Float
    /// Exponential model: A (in pulses) and the saturation B for potentiation and depression.
    var aUp: Float, aDown: Float, bUp: Float, bDown: Float

    /// Mean conductance change of one pulse (the unit in which pulse counts are computed).
    static func meanStep(_ s: DeviceSpec) -> Double {
        s.model == .exponential ? 1 / Double(s.pulses) : s.dwMin
    }

    /// Whether devices differ from each other (any device-to-device spread of the response).
    static func hasSpread(_ s: DeviceSpec) -> Bool {
        s.model == .exponential ? s.nlDtod > 0 : (s.dwMinDtod > 0 || s.upDownDtod > 0 || (s.model != .softBounds && s.gammaDtod > 0))
    }

    /// Draws one device's parameters (`nominal` is reused when the NL label has no d2d spread).
    static func draw(_ s: DeviceSpec, _ rng: inout RandomStream, nominal: DeviceResponse? = nil) -> DeviceResponse {
        switch s.model {
        case .exponential:
            if s.nlDtod == 0, let n = nominal { return n }
            let p = Double(s.pulses)
            func curve(_ nl: Double) -> (Float, Float) {
                let label = s.nlDtod > 0 ? min(max(abs(nl) + s.nlDtod * rng.normal(), 0), NonlinearityLabel.labelScale * 0.999) : abs(nl)
                let a = NonlinearityLabel.normalizedA(label: label) * p
                if !a.isFinite { return (.infinity, 1) }
                return (Float(a), Float(1 / -expm1(-p / a)))
            }
            let (au, bu) = curve(s.nlLtp), (ad, bd) = curve(s.nlLtd)
            return DeviceResponse(stepUp: Float(1 / p), stepDown: Float(1 / p), gammaUp: 0, gammaDown: 0, aUp: au, aDown: ad, bUp: bu, bDown: bd)
        default:
            let scale = max(0, 1 + s.dwMinDtod * rng.normal())
            let ud = s.upDown + s.upDownDtod * rng.normal()
            let gu = s.model == .softBounds ? 1 : min(max(s.gammaUp + s.gammaDtod * rng.normal(), 0), 1)
            let gd = s.model == .softBounds ? 1 : min(max(s.gammaDown + s.gammaDtod * rng.normal(), 0), 1)
            return DeviceResponse(stepUp: Float(s.dwMin * scale * max(0, 1 + ud)), stepDown: Float(s.dwMin * scale * max(0, 1 - ud)),
                                  gammaUp: Float(gu), gammaDown: Float(gd), aUp: .infinity, aDown: .infinity, bUp: 1, bDown: 1)
        }
    }

    /// u after n pulses of potentiation, without noise. Linear step with soft bound:
    /// u ← u + s(1 − γu) ⇒ u_n = u* − (u* − u₀)(1 − sγ)^n, u* = 1/γ. Exponential: u = B(1 − e^{−P/A}),
    /// advanced from the pulse position P₀ = −A·ln(1 − u₀/B) by n.
    @inline(__always)
    static func potentiate(_ u: Float, _ n: Float, step s: Float, gamma g: Float, a: Float, b: Float) -> Float {
        if a.isFinite {
            let p0 = -a * Foundation.log1p(-min(u / b, 0.999_999))
            return b * -Foundation.expm1(-(p0 + n) / a)
        }
        if g == 0 { return u + n * s }
        let fixed = 1 / g
        return fixed - (fixed - u) * Foundation.pow(max(1 - s * g, 0), n)
    }
}

/// The pulse responses of an array's devices: without device-to-device spread, one nominal
/// response shared by all (saving 40 bytes per device and the cache misses of reading them during
/// updates); with spread, one drawn response per device.
struct DeviceTable {
    var nominal: DeviceResponse
    var perDevice: [DeviceResponse]
    init(nominal: DeviceResponse = DeviceResponse(stepUp: 0, stepDown: 0, gammaUp: 0, gammaDown: 0, aUp: .infinity, aDown: .infinity, bUp: 1, bDown: 1),
         perDevice: [DeviceResponse] = []) {
        self.nominal = nominal; self.perDevice = perDevice
    }
    @inline(__always)
    subscript(i: Int) -> DeviceResponse { perDevice.isEmpty ? nominal : perDevice[i] }
}
