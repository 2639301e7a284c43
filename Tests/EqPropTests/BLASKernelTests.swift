import Foundation
import Testing

@testable import EqProp

/// The BLAS kernel check: which core type to force, and the restart it triggers in `xbar`.
@Suite struct BLASKernelTests {
    @Test(
        arguments: [
            ("Prescott", BLASKernel.Features([.avx2, .fma, .avx512]), "SkylakeX"),
            ("Prescott", BLASKernel.Features([.avx2, .fma]), "Haswell"),
            ("Nehalem", BLASKernel.Features([.avx2, .fma]), "Haswell"),
            ("Prescott", BLASKernel.Features([.avx2]), nil),  // AVX2 without FMA: Haswell kernels need both
            ("Prescott", BLASKernel.Features([]), nil),  // an old CPU: the generic kernels are right
            ("Haswell", BLASKernel.Features([.avx2, .fma, .avx512]), nil),  // a native choice is left alone
            ("Zen", BLASKernel.Features([.avx2, .fma, .avx512]), nil),
            ("Cooperlake", BLASKernel.Features([.avx2, .fma, .avx512]), nil)
        ] as [(String, BLASKernel.Features, String?)])
    func recommendsANativeCoreOnlyForAGenericFallback(core: String, features: BLASKernel.Features, expected: String?) {
        #expect(BLASKernel.recommendedCore(current: core, features: features) == expected)
    }

    @Test func readsTheFeaturesFromCpuinfoFlags() {
        let avx512 = "fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl".split(separator: " ")
        #expect(BLASKernel.Features(cpuinfoFlags: avx512) == [.avx2, .fma, .avx512])
        let partial = "fpu avx2 fma avx512f".split(separator: " ")  // AVX-512 F alone is not enough
        #expect(BLASKernel.Features(cpuinfoFlags: partial) == [.avx2, .fma])
        #expect(BLASKernel.Features(cpuinfoFlags: "fpu sse2".split(separator: " ")) == [])
    }

    /// Runs xbar with the BLAS variables cleared, then `env` set.
    static func xbar(_ args: [String], env: [String: String]) throws -> (Int32, String, String) {
        var e: [String: String?] = [
            "OPENBLAS_CORETYPE": nil, BLASKernel.restartMarker: nil, "XBAR_BLAS_ASSUME_CORE": nil
        ]
        for (k, v) in env { e[k] = v }
        let r = try CLITests.run(args, environment: e)
        return (r.status, r.stdout, r.stderr)
    }

    /// As if OpenBLAS had fallen back to its generic kernels: xbar restarts onto the native core type,
    /// and training gives the same checkpoint, bit for bit, as a run with that core type forced.
    @Test(.enabled(if: BLASKernel.recommendedCore(current: "Prescott", features: .current) != nil))
    func restartsOntoNativeKernelsWithTheSameNumbersAsForcingThem() throws {
        let target = try #require(BLASKernel.recommendedCore(current: "Prescott", features: .current))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("blas-kernel-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = [
            "train", "--layers", "784,32,10", "--epochs", "1", "--train-subset", "200", "--test-subset", "100",
            "--quiet", "--out"
        ]
        let auto = try Self.xbar(
            train + [dir.appendingPathComponent("auto").path], env: ["XBAR_BLAS_ASSUME_CORE": "Prescott"])
        let forced = try Self.xbar(
            train + [dir.appendingPathComponent("forced").path], env: ["OPENBLAS_CORETYPE": target])
        #expect(auto.0 == 0 && forced.0 == 0, "\(auto.2) \(forced.2)")
        let a = try Data(contentsOf: dir.appendingPathComponent("auto/checkpoint.safetensors"))
        let f = try Data(contentsOf: dir.appendingPathComponent("forced/checkpoint.safetensors"))
        #expect(try Safetensors.decode(a, source: "auto").tensors == Safetensors.decode(f, source: "forced").tensors)

        // The restarted process reports where it came from; a forced core type is left alone.
        let bench = ["bench", "--json", "--batches", "1", "--repeats", "1", "--layers", "784,32,10"]
        let restarted = try Self.xbar(bench, env: ["XBAR_BLAS_ASSUME_CORE": "Prescott"])
        #expect(
            restarted.1.contains("\"blas_core\":\"\(target)\"")
                && restarted.1.contains("\"blas_restarted_from\":\"Prescott\""), "\(restarted.1.prefix(400))")
        let kept = try Self.xbar(bench, env: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(
            kept.1.contains("\"blas_core\":\"Prescott\"") && kept.2.contains("set OPENBLAS_CORETYPE=\(target) instead"),
            "\(kept.2)")
    }
}
