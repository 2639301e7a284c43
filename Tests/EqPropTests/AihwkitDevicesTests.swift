import Foundation
import Testing

@testable import EqProp

/// aihwkit's devices against their closed forms, written here per pulse in aihwkit's weight units
/// (Double), independently of the conversion to normalized conductance the library makes.
@Suite struct AihwkitDevicesTests {
    /// An aihwkit-unit device spec without spread or noise (the nominal device).
    static func spec(_ model: DeviceModel, _ f: (inout DeviceSpec) -> Void = { _ in }) -> DeviceSpec {
        var d = DeviceSpec(); d.name = "t"; d.model = model
        d.weightMin = -0.8276; d.weightMax = 1.1724; d.dwMin = 0.002
        d.programming = .deterministic; d.rounding = .nearest; d.maxPulses = 10_000
        f(&d)
        return d
    }

    /// The nominal device of a spec, and its weight units.
    static func device(_ d: DeviceSpec) -> (any PulseResponse, WeightUnits) {
        var rng = RandomStream(seed: 1, stream: "t")
        return (d.law!.sampleDevice(using: &rng), d.device.weightUnits)
    }

    /// w after n pulses of `device` from w0, through u, clipped to the device's bounds as the array
    /// clips it (a law's response relaxes monotonically, so one clip after n pulses is a clip per pulse).
    static func pulsed(_ dev: any PulseResponse, _ units: WeightUnits, from w0: Double, up: Bool, n: Int) -> Double {
        let u = Float(units.u(w0))
        let v = up ? dev.potentiated(u, pulses: Float(n)) : dev.depressed(u, pulses: Float(n))
        return units.w(Double(min(max(v, dev.lowerBound), dev.upperBound)))
    }

    @Test func weightUnitsRoundTrip() {
        let units = WeightUnits(min: -0.8276, max: 1.1724)
        #expect(units.range == 2)
        #expect(abs(units.u(-0.8276)) < 1e-15 && abs(units.u(1.1724) - 1) < 1e-15)
        #expect(abs(units.u(0) - 0.4138) < 1e-12)
        for w in [-0.5, 0, 0.3, 1.1] { #expect(abs(units.w(units.u(w)) - w) < 1e-12) }
    }

    /// LinearStep (EcRAM's slopes): w ← w + s(1 − γ⁺w/w_max) up, w ← w − s(1 − γ⁻w/w_min) down, referenced
    /// to w = 0, for every n from several starts; the library applies n pulses in closed form in u.
    @Test(arguments: [true, false])
    func linearStepMatchesAihwkitPerPulse(meanBound: Bool) {
        let d = Self.spec(.aihwkitLinearStep) {
            $0.gammaUp = 0.1153; $0.gammaDown = 0.5085; $0.meanBoundReference = meanBound
        }
        let (dev, units) = Self.device(d)
        for w0 in [-0.8, -0.2, 0.0, 0.7, 1.1] {
            for n in [1, 7, 100, 800] {
                var up = w0, down = w0
                for _ in 0..<n {
                    up = min(up + 0.002 * (1 - 0.1153 * up / 1.1724), 1.1724)
                    down = max(down - 0.002 * (1 - 0.5085 * down / -0.8276), -0.8276)
                }
                let gotUp = Self.pulsed(dev, units, from: w0, up: true, n: n),
                    gotDown = Self.pulsed(dev, units, from: w0, up: false, n: n)
                #expect(abs(gotUp - min(up, 1.1724)) < 2e-5, "up from \(w0), \(n) pulses: \(gotUp) vs \(up)")
                #expect(abs(gotDown - max(down, -0.8276)) < 2e-5, "down from \(w0), \(n) pulses: \(gotDown) vs \(down)")
            }
        }
    }

    /// SoftBounds: the step vanishes at the device's own bound, Δw⁺ = s(1 − w/b_max), Δw⁻ = s(1 − w/b_min).
    @Test func softBoundsMatchesAihwkitPerPulse() {
        let d = Self.spec(.aihwkitSoftBounds) {
            $0.weightMin = -0.75; $0.weightMax = 1.25
        }
        let (dev, units) = Self.device(d)
        for w0 in [-0.7, 0.0, 1.0] {
            for n in [1, 50, 3000] {
                var up = w0, down = w0
                for _ in 0..<n { up += 0.002 * (1 - up / 1.25); down -= 0.002 * (1 - down / -0.75) }
                #expect(abs(Self.pulsed(dev, units, from: w0, up: true, n: n) - up) < 2e-5)
                #expect(abs(Self.pulsed(dev, units, from: w0, up: false, n: n) - down) < 2e-5)
            }
        }
    }

    /// ExpStep (PCM's numbers): Δw = ±s·max(1 − A·e^{±γz}, 0), z = 2a·w/(b_max − b_min) + b, per pulse, clipped.
    @Test func expStepMatchesAihwkitPerPulse() {
        let d = Self.spec(.aihwkitExpStep) {
            $0.weightMin = 0; $0.weightMax = 2; $0.dwMin = 0.01
            $0.expAUp = -27.235; $0.expADown = -2.235; $0.expGammaUp = 2.5; $0.expGammaDown = 2.5; $0.expA = -1;
            $0.expB = 0
        }
        let (dev, units) = Self.device(d)
        func z(_ w: Double) -> Double { 2 * -1 * w / 2 + 0 }
        for w0 in [0.0, 0.5, 1.9] {
            for n in [1, 10, 60] {
                var up = w0, down = w0
                for _ in 0..<n {
                    up = min(up + 0.01 * max(1 + 27.235 * exp(2.5 * z(up)), 0), 2)
                    down = max(down - 0.01 * max(1 + 2.235 * exp(-2.5 * z(down)), 0), 0)
                }
                #expect(abs(Self.pulsed(dev, units, from: w0, up: true, n: n) - up) < 1e-4, "up from \(w0) × \(n)")
                #expect(abs(Self.pulsed(dev, units, from: w0, up: false, n: n) - down) < 1e-4, "down from \(w0) × \(n)")
            }
        }
        // The first step from the bottom is 28.235 steps of dw_min.
        #expect(abs(Self.pulsed(dev, units, from: 0, up: true, n: 1) - 0.28235) < 1e-5)
    }

    /// PowStep: Δw⁺ = s((b_max − w)/R)^γ, Δw⁻ = s((w − b_min)/R)^γ; at mid-range s·0.5^γ, the law's unit.
    @Test func powStepMatchesAihwkitPerPulse() {
        let d = Self.spec(.aihwkitPowStep) {
            $0.weightMin = -1; $0.weightMax = 1; $0.powGamma = 2
        }
        let (dev, units) = Self.device(d)
        for w0 in [-0.9, 0.0, 0.8] {
            var up = w0, down = w0
            for _ in 0..<40 { up += 0.002 * pow((1 - up) / 2, 2); down -= 0.002 * pow((down + 1) / 2, 2) }
            #expect(abs(Self.pulsed(dev, units, from: w0, up: true, n: 40) - up) < 1e-5)
            #expect(abs(Self.pulsed(dev, units, from: w0, up: false, n: 40) - down) < 1e-5)
        }
        #expect(abs(d.law!.meanStep - 0.002 * 0.25 / 2) < 1e-15)
    }

    /// PiecewiseStep: factors at nodes spaced evenly from b_min to b_max, interpolated linearly.
    @Test func piecewiseStepInterpolatesTheUserCurve() {
        let d = Self.spec(.aihwkitPiecewiseStep) {
            $0.weightMin = -1; $0.weightMax = 1; $0.piecewiseUp = [2, 1, 0.5]; $0.piecewiseDown = [0.5, 1, 3]
        }
        let (dev, units) = Self.device(d)
        // Nodes at w = −1, 0, 1. At w = −0.5 (between nodes 0 and 1): up 1.5·s, down 0.75·s.
        #expect(abs(Self.pulsed(dev, units, from: -0.5, up: true, n: 1) - (-0.5 + 0.003)) < 1e-6)
        #expect(abs(Self.pulsed(dev, units, from: -0.5, up: false, n: 1) - (-0.5 - 0.0015)) < 1e-6)
        // At a node (w = 0) the node's factor; at w = 0.5 the mean of the last two.
        #expect(abs(Self.pulsed(dev, units, from: 0, up: true, n: 1) - 0.002) < 1e-6)
        #expect(abs(Self.pulsed(dev, units, from: 0.5, up: false, n: 1) - (0.5 - 0.004)) < 1e-6)
    }

    /// d2d of the bounds: after enough up pulses every device of a constant-step law sits at its own
    /// b_max = w_max(1 + σξ), so the saturated weights have mean w_max and relative spread σ.
    @Test func saturatedWeightsSpreadAsTheBounds() throws {
        let d = Self.spec(.aihwkitLinearStep) {
            $0.weightMaxDtod = 0.1; $0.weightMinDtod = 0.2; $0.dwMin = 0.01
        }
        let n = 8000
        let c = try Characterization.curve(d, pulses: 600, start: .lower, devices: n, seed: 4)
        // At the start each device sits at its own b_min = w_min(1 + 0.2ξ); after 600 pulses of 0.01
        // (6 units of weight, more than any range) at its b_max.
        let top = c.weightMean[600], topSD = c.weightStd[600], bottom = c.weightMean[0], bottomSD = c.weightStd[0]
        let se = 1 / Double(2 * n).squareRoot()  // relative standard error of a standard deviation
        #expect(abs(top - 1.1724) <= 4 * 0.1 * 1.1724 / Double(n).squareRoot(), "mean saturated weight \(top)")
        #expect(abs(topSD / (0.1 * 1.1724) - 1) <= 4 * se, "spread of b_max \(topSD)")
        #expect(abs(bottom + 0.8276) <= 4 * 0.2 * 0.8276 / Double(n).squareRoot(), "mean lower bound \(bottom)")
        #expect(abs(bottomSD / (0.2 * 0.8276) - 1) <= 4 * se, "spread of b_min \(bottomSD)")
        // And they go back: the held conductances lie outside [0, 1] for wide devices.
        #expect(c.weightP95[600] > 1.1724 && c.weightP05[0] < -0.8276)
    }

    /// c2c noise of one pulse: multiplicative (aihwkit's default) scales with the state-dependent step,
    /// additive (`mult_noise: false`) does not. A soft-bounds device one pulse up from its lower bound
    /// w_min = −0.75 (b_max = 1.25) steps s·(1 + 0.75/1.25) = 1.6·s: σ = 1.6·σ_c·s vs σ_c·s. (σ_c = 0.3:
    /// draws that would cross the lower bound, ξ < −1/σ_c, are 4e-4 of them.)
    @Test(arguments: [true, false])
    func c2cNoiseIsMultiplicativeOrAdditive(mult: Bool) throws {
        let d = Self.spec(.aihwkitSoftBounds) {
            $0.weightMin = -0.75; $0.weightMax = 1.25; $0.dwMinStd = 0.3; $0.multNoise = mult
        }
        let n = 20000
        let c = try Characterization.curve(d, pulses: 1, start: .lower, devices: n, seed: 2)
        let want = (mult ? 1.6 : 1) * 0.3 * 0.002
        #expect(
            abs(c.weightMean[1] - (-0.75 + 1.6 * 0.002)) <= 4 * want / Double(n).squareRoot(), "mean \(c.weightMean[1])"
        )
        #expect(abs(c.weightStd[1] / want - 1) <= 4 / Double(2 * n).squareRoot(), "σ \(c.weightStd[1]) vs \(want)")
    }

    /// ExpStep's "complex" c2c noise: one pulse has σ·(|Δw| + add + slope·|w|) (absolute weight units).
    @Test func expStepComplexNoise() throws {
        let d = Self.spec(.aihwkitExpStep) {
            $0.weightMin = 0; $0.weightMax = 2; $0.dwMin = 0.01; $0.expAUp = -27.235; $0.expADown = -2.235
            $0.expGammaUp = 2.5; $0.expGammaDown = 2.5; $0.expA = -1; $0.expB = 0
            $0.dwMinStd = 0.6; $0.dwMinStdAdd = 0.042; $0.dwMinStdSlope = 0.108
        }
        let n = 20000
        let c = try Characterization.curve(d, pulses: 1, start: .zero, devices: n, seed: 3)
        // From w = 0: Δw = 0.28235; σ = 0.6·(0.28235 + 0.042 + 0). Clipping at 0 cuts draws below −1.45σ
        // from the mean; compare the upper half's spread, P95 − mean = 1.645σ, which clipping does not touch.
        let sigma = 0.6 * (0.28235 + 0.042)
        #expect(abs((c.weightP95[1] - 0.28235) / (1.645 * sigma) - 1) <= 0.03, "P95 \(c.weightP95[1])")
    }

    /// The presets that cite aihwkit carry its numbers verbatim, in its weight units.
    @Test func presetsCarryAihwkitNumbers() throws {
        let ecram = try DeviceSpec.load("ecram")
        let e = try #require(ecram.law as? AihwkitLinearStepLaw)
        #expect(
            e.pulsed
                == AihwkitPulsedParameters(
                    dwMin: 0.002, dwMinDtod: 0.1, upDown: 0, upDownDtod: 0.01,
                    units: WeightUnits(min: -0.8276, max: 1.1724), wMinDtod: 0.05, wMaxDtod: 0.05))
        #expect(
            e.gammaUp == 0.1153 && e.gammaDown == 0.5085 && e.gammaUpDtod == 0.05 && e.gammaDownDtod == 0.05
                && e.meanBoundReference)
        #expect(ecram.dwMinStd == 0.3 && ecram.multNoise)
        let reram = try DeviceSpec.load("reram-sb")
        let r = try #require(reram.law as? AihwkitLinearStepLaw)
        #expect(r.gammaUp == 1 && r.gammaDown == 1 && !r.meanBoundReference)
        #expect(r.pulsed.units == WeightUnits(min: -0.75, max: 1.25) && abs(r.pulsed.wMaxDtod * 1.25 - 0.3) < 1e-12)
        #expect(abs(r.pulsed.wMinDtod * 0.75 - 0.3) < 1e-12)
        #expect(reram.dwMinStd == 3.75 && !reram.multNoise && reram.writeNoiseStd == 56)
        let pcm = try DeviceSpec.load("pcm-aihwkit")
        let p = try #require(pcm.law as? AihwkitExpStepLaw)
        #expect(p.aUp == -27.235 && p.aDown == -2.235 && p.gammaUp == 2.5 && p.a == -1 && p.b == 0)
        #expect(
            p.pulsed.units == WeightUnits(min: 0, max: 2) && p.pulsed.wMaxDtod == 0.1 && p.stdAdd == 0.042
                && p.stdSlope == 0.108)
    }

    /// Write noise is write_noise_std·dw_min in weight units: reram-sb's 56·0.002 = 0.112, a fraction
    /// 0.056 of its range.
    @Test func writeNoiseIsInWeightUnits() throws {
        let reram = try DeviceSpec.load("reram-sb")
        #expect(abs(reram.device.dwMinFraction - 0.001) < 1e-15)
        let arr = CrossbarArray(spec: reram, weights: Matrix(rows: 2, cols: 2), seed: 1, layer: 0)
        #expect(abs(arr.store.conductances!.writeNoiseScale - 0.056) < 1e-7)
    }

    /// Devices whose bounds spread keep restored states within the widest bound, and a state beyond it
    /// is refused with its value.
    @Test func restoredStatesMayLieOutsideTheNominalRange() throws {
        let d = Self.spec(.aihwkitSoftBounds) {
            $0.weightMaxDtod = 0.3; $0.programming = .stochastic
        }
        let arr = CrossbarArray(spec: d, weights: Matrix(rows: 8, cols: 8), seed: 1, layer: 0)
        let cells = arr.store.conductances!
        #expect(cells.envelope.upperBound > 1)
        var s = cells.state
        s["g_pos"]![0] = cells.envelope.upperBound
        try cells.restore(s)
        s["g_pos"]![0] = cells.envelope.upperBound + 0.01
        #expect(throws: InputError.self) { try cells.restore(s) }
    }
}
