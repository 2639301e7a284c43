// Trains P-1h with Equilibrium Propagation on a crossbar whose devices follow a law defined here, in a
// few lines of Swift, and compares the fidelity of its updates against the exact BPTT gradient with
// that of ideal weights. Exits with status 1 if the two fidelities cannot be told apart.
//
//     swift run -c release --package-path Examples/CustomDevice     (from the repository's root)
import EqProp
import Foundation

/// A power-law step device (the form of aihwkit's PowStepDevice): one pulse moves u = (G − G_min)/(G_max − G_min)
/// up by s·(1 − u)^γ and down by s·u^γ, so steps shrink near the bound they move toward. Each device's
/// step s is drawn once, with relative spread `stepDtod` (device-to-device variation).
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
    /// A pulse near mid-range moves u by s·0.5^γ: the unit the array counts pulses in.
    var meanStep: Double { step * Foundation.pow(0.5, gamma) }
    var hasDeviceSpread: Bool { stepDtod > 0 }
    func sampleDevice(using rng: inout RandomStream) -> Device {
        Device(step: Float(step * max(0, 1 + stepDtod * rng.normal())), gamma: Float(gamma))
    }
}

do {
    var spec = try NetworkSpec.load("p-1h")
    spec.beta = 0.5; spec.nudging = .symmetric
    let data = try DataSet.load("fashion-mnist")
    let seed: UInt64 = 1
    // Every field of the device config but the law applies: here an exact read path and deterministic
    // pulse counts with stochastic rounding, so what differs from ideal weights is the device law alone.
    var device = DeviceSpec()
    device.name = "power-step"; device.programming = .deterministic; device.rounding = .stochastic;
    device.maxPulses = 100
    let law = PowerStepLaw(step: 0.05, gamma: 2, stepDtod: 0.2)

    // EP training on the custom device: 300 examples, one epoch.
    let options = TrainingOptions(seed: seed, trainSubset: 300, testSubset: 1000)
    let net = Network(spec: spec, parameters: .initial(spec: spec, seed: seed), device: device, law: law, seed: seed)
    var trainer = try Trainer(net: net, options: options, data: data)
    let trainError = trainer.trainEpoch(0)
    print(
        String(
            format: "power-step device: train error %.1f %%, test error %.1f %% after 300 examples", trainError,
            trainer.evaluate()))

    // Fidelity of 10 further EP updates against −lr·∇BPTT, on the trained weights: custom law vs ideal weights.
    let trained = trainer.parameters
    var onDevice = Network(spec: spec, parameters: trained, device: device, law: law, seed: seed)
    var ideal = IdealNetwork<Float>(spec: spec, parameters: trained)
    let custom = FidelityRun.probe(&onDevice, data: data.train, batches: 10, seed: seed, device: "power-step")
    let reference = FidelityRun.probe(&ideal, data: data.train, batches: 10, seed: seed, device: "ideal")
    var separated = false
    for (c, r) in zip(custom.layers, reference.layers) {
        print(
            String(
                format: "%@  cosine with −lr·∇BPTT: power-step %.3f [%.3f, %.3f], ideal %.3f [%.3f, %.3f]",
                c.layer, c.cosine.mean, c.cosine.low, c.cosine.high, r.cosine.mean, r.cosine.low, r.cosine.high))
        if c.cosine.high < r.cosine.low || c.cosine.low > r.cosine.high { separated = true }
    }
    guard separated else {
        print(
            "error: the power-step device's fidelity is not measurably different from ideal weights (95 % intervals "
                + "overlap in every layer)"
        )
        exit(1)
    }
    print("the device law changes the fidelity measurably (non-overlapping 95 % intervals)")
} catch {
    print("error: \(error)")
    exit(2)
}
