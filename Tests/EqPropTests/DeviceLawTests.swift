import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// A device law written outside the library's built-ins: a power-law step (aihwkit's PowStep form,
/// Δu = s·(1 − u)^γ up and s·u^γ down, one pulse at a time), with a per-device step drawn from the
/// d2d stream.
struct PowerStepLaw: DeviceLaw {
    struct Device: PulseResponse {
        let step: Float, gamma: Float
        func potentiated(_ u: Float, pulses n: Float) -> Float {
            var v = u
            for _ in 0..<Int(n) { v += step * Foundation.pow(max(1 - v, 0), gamma) }
            return v
        }
        func depressed(_ u: Float, pulses n: Float) -> Float {
            var v = u
            for _ in 0..<Int(n) { v -= step * Foundation.pow(max(v, 0), gamma) }
            return v
        }
    }
    var step: Double, gamma: Double, stepDtod: Double
    var meanStep: Double { step }
    var hasDeviceSpread: Bool { stepDtod > 0 }
    func sampleDevice(using rng: inout RandomStream) -> Device {
        Device(step: Float(step * max(0, 1 + stepDtod * rng.normal())), gamma: Float(gamma))
    }
}

@Suite struct DeviceLawTests {
    /// A noiseless array programs exactly the pulse counts it computes, and each device lands where
    /// the custom law's closed form puts it: a deterministic update asking for k steps up on W (G⁺ up,
    /// G⁻ down) moves u⁺ by k potentiating and u⁻ by k depressing pulses of the law.
    /// ρⁿ of the programming loop: whole counts by repeated squaring (closed form for n < 4), within
    /// a few Double ulps of `pow`; fractional, negative and non-finite counts are not whole.
    @Test func decayOfWholePulseCountsMatchesPow() {
        for rho in [0.999_7, 0.98, 0.5, 1.0] {
            for k in 0...40 {
                let p = GeometricResponse.integerPower(rho, k), want = Double.pow(rho, Double(k))
                #expect(abs(p - want) <= 8 * want.ulp, "ρ = \(rho), n = \(k): \(p) vs pow \(want)")
            }
        }
        #expect(GeometricResponse.wholeCount(0) == 0 && GeometricResponse.wholeCount(37) == 37)
        for n: Float in [2.5, -1, .nan, .infinity, 0x1p31] { #expect(GeometricResponse.wholeCount(n) == nil) }
        #expect(GeometricResponse.decay(0.9, 2.5) == Float(Double.pow(0.9, 2.5)))
    }

    @Test func customLawMovesDevicesAlongItsResponse() {
        var spec = DeviceSpec()
        spec.programming = .deterministic; spec.rounding = .nearest; spec.maxPulses = 1000; spec.wMax = 1
        let law = PowerStepLaw(step: 0.01, gamma: 2, stepDtod: 0)
        let arr = CrossbarArray(spec: spec, law: law, weights: Matrix(rows: 1, cols: 1), seed: 3, layer: 0)
        #expect(arr.storesConductances && !arr.updatesAreExact)
        let u0 = arr.uPos[0], v0 = arr.uNeg[0]
        #expect(u0 == 0.5 && v0 == 0.5)
        let k: Float = 17
        // ΔW = k·2·w_fs·meanStep requests k pulses per device.
        let dw = k * 2 * arr.fullScale * Float(law.meanStep)
        arr.update(post: Matrix(rows: 1, cols: 1, storage: [1]), pre: Matrix(rows: 1, cols: 1, storage: [dw]), scale: 1)
        var up = u0, down = v0
        for _ in 0..<17 {
            up += 0.01 * (1 - up) * (1 - up)
            down -= 0.01 * down * down
        }
        #expect(abs(arr.uPos[0] - up) <= 1e-6, "u⁺ \(arr.uPos[0]) vs closed form \(up)")
        #expect(abs(arr.uNeg[0] - down) <= 1e-6, "u⁻ \(arr.uNeg[0]) vs closed form \(down)")
        // The held weight is w_fs·(u⁺ − u⁻): less than requested, since the power law slows near the bounds.
        #expect(abs(arr.weights[0, 0] - arr.fullScale * (up - down)) <= 1e-6)
        #expect(arr.weights[0, 0] < dw)
    }

    /// Device-to-device draws come from the law, one per device, from the array's seeded d2d stream.
    @Test func customLawDrawsOneDevicePerWeight() {
        var spec = DeviceSpec(); spec.programming = .deterministic; spec.rounding = .nearest
        let law = PowerStepLaw(step: 0.01, gamma: 1, stepDtod: 0.3)
        let w = Matrix<Float>(rows: 20, cols: 20)
        let a = CrossbarArray(spec: spec, law: law, weights: w, seed: 1, layer: 0)
        let b = CrossbarArray(spec: spec, law: law, weights: w, seed: 1, layer: 0)
        let table = (a.store as! ProgrammedConductances).responses.positive as! LawTable<PowerStepLaw.Device>
        let other = (b.store as! ProgrammedConductances).responses.positive as! LawTable<PowerStepLaw.Device>
        #expect(table.perDevice.count == 400)
        #expect(table.perDevice.map(\.step) == other.perDevice.map(\.step))
        let steps = table.perDevice.map { Double($0.step) }
        let mean = steps.reduce(0, +) / 400
        let sd = (steps.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 399).squareRoot()
        // σ of the step is 0.3·0.01 (clipping at 0 is 3.3σ away); 400 draws: the mean within 4 s.e.
        #expect(abs(mean - 0.01) <= 4 * 0.003 / 20, "mean step \(mean)")
        #expect(abs(sd / 0.003 - 1) <= 0.15, "σ of the step \(sd)")
    }

    /// The preset's model maps onto the built-in law types.
    @Test func presetModelsMapToBuiltInLaws() throws {
        #expect(try DeviceSpec.load("ideal").law == nil)
        #expect(try DeviceSpec.load("epiram").law is ExponentialLaw)
        #expect(try DeviceSpec.load("ecram").law is AihwkitLinearStepLaw)
        #expect(try DeviceSpec.load("reram-sb").law is AihwkitLinearStepLaw)
        #expect(try DeviceSpec.load("pcm-aihwkit").law is AihwkitExpStepLaw)
    }
}
