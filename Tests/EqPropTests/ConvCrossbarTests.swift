import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// P-conv on crossbars: every conv kernel and the classifier on an array read with the im2col rows of
/// the batch, through the same trainer, fidelity probe and sweeps as the fully connected models.
@Suite(.serialized) struct ConvCrossbarTests {
    static let data: DataSet = try! DataSet.load("fashion-mnist")
    /// The seed's P-conv with shorter phases (T = 30, K = 10) to keep the suite fast.
    static let spec: NetworkSpec = {
        var s = try! NetworkSpec.load("p-conv")
        s.T = 30; s.K = 10
        return s
    }()
    static let params = Parameters<Float>.initial(spec: spec, seed: 1)

    /// With the `ideal` device (exact storage, empty periphery) P-conv trains bit-identically to
    /// software P-conv: same checkpoint tensors, same logged errors.
    @Test func idealDeviceConvTrainingIsBitIdentical() throws {
        var s = Self.spec; s.T = 8; s.K = 3; s.epochs = 1
        let a = NSTemporaryDirectory() + "xbar-conv-ideal-\(UUID().uuidString)", b = a + "-device"
        defer { for d in [a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let options = TrainingOptions(seed: 2, trainSubset: 100, testSubset: 60)
        var withDevice = options; withDevice.device = DeviceSpec()
        let ra = try TrainingRun.run(spec: s, options: options, outDir: a, resume: false, data: Self.data)
        let rb = try TrainingRun.run(spec: s, options: withDevice, outDir: b, resume: false, data: Self.data)
        let pa = try TrainingRun.loadCheckpoint(a + "/checkpoint.safetensors").parameters
        let pb = try TrainingRun.loadCheckpoint(b + "/checkpoint.safetensors").parameters
        #expect(pa == pb)
        #expect(pa != Self.params, "training moved the weights")
        #expect(ra.map(\.trainError) == rb.map(\.trainError) && ra.map(\.testError) == rb.map(\.testError))
    }

    /// A near-ideal linear device (steps of 1e-4 of the range, stochastic rounding) with fewer and
    /// fewer conductance levels: the mean cosine of the realized update with −lr·∇BPTT falls.
    @Test(.tags(.slow), .skippedWhenFast) func quantizationLowersConvFidelityMonotonically() {
        var cos: [Double] = []
        for levels in [256, 64, 16] {
            var d = DeviceSpec()
            d.name = "fine"; d.model = .linearStep; d.dwMin = 1e-4; d.programming = .deterministic;
            d.rounding = .stochastic
            d.maxPulses = 100_000; d.levels = levels
            let r = FidelityRun.run(
                spec: Self.spec, device: d, parameters: Self.params, data: Self.data.train, batches: 8, seed: 1)
            cos.append(r.meanCosine)
            print(
                "P-conv fidelity, \(levels) levels: "
                    + r.layers.map { "\($0.layer) \($0.cosine.mean)" }.joined(separator: ", "))
        }
        #expect(cos[0] > cos[1] && cos[1] > cos[2], "mean cosine for 256, 64, 16 levels: \(cos)")
    }

    /// P-conv trains on a noisy device preset (EpiRAM: DAC/ADC, white and 1/f read noise, exponential
    /// law), with every update scheme, checkpoints the device state (and χ, or Tiki-Taka's fast array
    /// and transfer position) of its three arrays, and resumes to the same weights and device state.
    @Test(.tags(.slow), .skippedWhenFast, arguments: UpdateScheme.allCases)
    func convTrainsOnACrossbarAndResumes(scheme: UpdateScheme) throws {
        var s = Self.spec; s.T = 6; s.K = 3; s.epochs = 2
        var dev = try DeviceSpec.load("epiram")
        dev.scheme = scheme
        let options = TrainingOptions(seed: 1, trainSubset: 60, testSubset: 40, device: dev)
        let a = NSTemporaryDirectory() + "xbar-conv-xbar-\(UUID().uuidString)", b = a + "-resumed"
        defer { for d in [a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let whole = try TrainingRun.run(spec: s, options: options, outDir: a, resume: false, data: Self.data)
        #expect(whole.count == 2 && whole.allSatisfy { $0.testError.isFinite })
        var one = s; one.epochs = 1
        try TrainingRun.run(spec: one, options: options, outDir: b, resume: false, data: Self.data)
        let ck1 = try TrainingRun.loadCheckpoint(b + "/checkpoint.safetensors")
        #expect(ck1.arrayState.count == 3 && ck1.arrayState.allSatisfy { $0["g_pos"] != nil && $0["g_neg"] != nil })
        #expect(ck1.arrayState.allSatisfy { ($0["chi"] != nil) == (scheme == .mixedPrecision) })
        #expect(ck1.arrayState.allSatisfy { ($0["transfer"] != nil && $0["fast_g_pos"] != nil) == scheme.isTikiTaka })
        try TrainingRun.run(spec: s, options: options, outDir: b, resume: true, data: Self.data)
        let ca = try TrainingRun.loadCheckpoint(a + "/checkpoint.safetensors")
        let cb = try TrainingRun.loadCheckpoint(b + "/checkpoint.safetensors")
        #expect(
            ca.parameters == cb.parameters && ca.arrayState == cb.arrayState,
            "resumed P-conv crossbar run differs from the uninterrupted one")
    }
}
