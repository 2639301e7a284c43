import Foundation

/// The pulse response of one device, with its device-to-device draws, in normalized conductance
/// u ∈ [0, 1]. Potentiation moves u up, depression down; n pulses are applied in closed form.
///
/// Every model relaxes geometrically toward a fixed point: after n pulses u_n = u* − (u* − u₀)·ρⁿ.
/// Exponential (NeuroSim): u = B(1 − e^{−P/A}) along the pulse number P, so u* = B, ρ = e^{−1/A}.
/// Linear step with soft bound (aihwkit): u ← u + s(1 − γu), so u* = 1/γ, ρ = 1 − sγ. With ρ = 1
/// (γ = 0, or an infinite A) the step is linear: u_n = u₀ + n·s. Depression mirrors potentiation on
/// the distance from the top, 1 − u.
struct DeviceResponse {
    /// Per-device parameters (drawn once per array from the d2d stream).
    var stepUp: Float, stepDown: Float
    /// Fixed points u* and per-pulse factors ρ of potentiation and depression.
    var fixedUp: Float, fixedDown: Float
    var rhoUp: Double, rhoDown: Double

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
            /// (u*, ρ) = (B, e^{−1/A}) with A in pulses and B = 1/(1 − e^{−P_max/A}), so u(P_max) = 1.
            func curve(_ nl: Double) -> (Float, Double) {
                let label = s.nlDtod > 0 ? min(max(abs(nl) + s.nlDtod * rng.normal(), 0), NonlinearityLabel.labelScale * 0.999) : abs(nl)
                let a = NonlinearityLabel.normalizedA(label: label) * p
                if !a.isFinite { return (1, 1) }
                return (Float(1 / -expm1(-p / a)), Double.exp(-1 / a))
            }
            let (bu, ru) = curve(s.nlLtp), (bd, rd) = curve(s.nlLtd)
            return DeviceResponse(stepUp: Float(1 / p), stepDown: Float(1 / p), fixedUp: bu, fixedDown: bd, rhoUp: ru, rhoDown: rd)
        default:
            let scale = max(0, 1 + s.dwMinDtod * rng.normal())
            let ud = s.upDown + s.upDownDtod * rng.normal()
            let gu = s.model == .softBounds ? 1 : min(max(s.gammaUp + s.gammaDtod * rng.normal(), 0), 1)
            let gd = s.model == .softBounds ? 1 : min(max(s.gammaDown + s.gammaDtod * rng.normal(), 0), 1)
            let su = s.dwMin * scale * max(0, 1 + ud), sd = s.dwMin * scale * max(0, 1 - ud)
            return DeviceResponse(stepUp: Float(su), stepDown: Float(sd),
                                  fixedUp: gu > 0 ? Float(1 / gu) : 1, fixedDown: gd > 0 ? Float(1 / gd) : 1,
                                  rhoUp: gu > 0 ? max(1 - su * gu, 0) : 1, rhoDown: gd > 0 ? max(1 - sd * gd, 0) : 1)
        }
    }

    /// u after n pulses of potentiation (`decay` = ρⁿ, see `DeviceTable.decays`), without noise.
    @inline(__always)
    func potentiated(_ u: Float, pulses n: Float, decay: Float) -> Float {
        rhoUp == 1 ? u + n * stepUp : fixedUp - (fixedUp - u) * decay
    }

    /// u after n pulses of depression (`decay` = ρⁿ of depression), without noise.
    @inline(__always)
    func depressed(_ u: Float, pulses n: Float, decay: Float) -> Float {
        rhoDown == 1 ? u - n * stepDown : 1 - (fixedDown - (fixedDown - (1 - u)) * decay)
    }

    /// u after n pulses of potentiation, computing ρⁿ (for tests and one-off use).
    func potentiated(_ u: Float, pulses n: Float) -> Float {
        potentiated(u, pulses: n, decay: Float(Double.pow(rhoUp, Double(n))))
    }
}

/// The pulse responses of an array's devices: without device-to-device spread, one nominal
/// response shared by all (saving 48 bytes per device and the cache misses of reading them during
/// updates) and its factors ρⁿ tabulated for every integer pulse count up to the cap; with spread,
/// one drawn response per device and ρⁿ computed per update.
struct DeviceTable {
    var nominal: DeviceResponse
    var perDevice: [DeviceResponse]
    /// ρⁿ of the nominal response for n = 0 … `powersUp.count − 1`.
    private var powersUp: [Float] = [], powersDown: [Float] = []

    init(nominal: DeviceResponse = DeviceResponse(stepUp: 0, stepDown: 0, fixedUp: 1, fixedDown: 1, rhoUp: 1, rhoDown: 1),
         perDevice: [DeviceResponse] = [], maxPulses: Int = 0) {
        self.nominal = nominal; self.perDevice = perDevice
        if perDevice.isEmpty {
            let n = min(max(maxPulses, 0), 4096)
            powersUp = (0...n).map { Float(Double.pow(nominal.rhoUp, Double($0))) }
            powersDown = (0...n).map { Float(Double.pow(nominal.rhoDown, Double($0))) }
        }
    }
    @inline(__always)
    subscript(i: Int) -> DeviceResponse { perDevice.isEmpty ? nominal : perDevice[i] }

    /// (ρ_up^up, ρ_down^down) of device i for the given pulse counts.
    @inline(__always)
    func decays(_ i: Int, up: Float, down: Float) -> (up: Float, down: Float) {
        if perDevice.isEmpty, let ku = Int(exactly: up), let kd = Int(exactly: down), ku < powersUp.count, kd < powersDown.count {
            return (powersUp[ku], powersDown[kd])
        }
        let d = self[i]
        return (Float(Double.pow(d.rhoUp, Double(up))), Float(Double.pow(d.rhoDown, Double(down))))
    }
}
