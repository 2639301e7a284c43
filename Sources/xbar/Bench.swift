import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Training throughput of P-1h or P-conv (EP and BPTT) against this machine's sgemm rate; crossbar read "
            + "and training cost.",
        discussion:
            "Use a release build (swift build -c release). Medians over --repeats runs of --batches batches on "
            + "synthetic 784-pixel data (P-conv: 5 batches unless --batches is given). The crossbar part (P-1h only) "
            + "uses --device and --levels; it also times the read and the pulse-train update that "
            + "scripts/bench-vs-aihwkit compares with aihwkit."
    )
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Batches per timed run.") var batches: Int = 100
    @Option(help: "Timed runs (median reported).") var repeats: Int = 5
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Device preset for the crossbar read benchmark (a noisy, quantized 512×784 read at batch 20).")
    var device: String = "epiram"
    @Option(help: "Conductance levels of that device (default: the preset's).")
    var levels: Int?

    func run() throws {
        guard batches >= 1, repeats >= 1 else { throw InputError("--batches and --repeats must be ≥ 1") }
        let spec = try modelOptions.resolve()
        let kernel = BLASKernel.status
        if let w = kernel.warning { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        if spec.kind == .convolutional { return try convBench(spec) }
        guard spec.layers.count == 3 else {
            throw InputError("xbar bench measures one-hidden-layer models (got layers \(spec.layers))")
        }
        let r = try Benchmarks.run(spec: spec, batches: batches, repeats: repeats)
        var dev = try DeviceOverrides.resolve(device)
        if let levels { dev.levels = levels }
        try dev.validate()
        var x = try Benchmarks.crossbar(device: dev)
        let xt = try Benchmarks.trainingThroughput(
            spec: spec, algorithm: .ep, batches: max(batches / 5, 5), repeats: repeats, device: dev)
        x.trainingSamplesPerSecond = xt.samplesPerSecond
        x.phasesSecondsPerSample = xt.phasesSecondsPerSample; x.updateSecondsPerSample = xt.updateSecondsPerSample
        x.costsPerSample = xt.costsPerSample
        x.idealTrainingSamplesPerSecond = r.epSamplesPerSecond
        x.trainingSlowdown = r.epSamplesPerSecond / xt.samplesPerSecond
        if json {
            struct Both: Encodable { let training: Benchmarks.Result; let crossbar: Benchmarks.CrossbarResult }
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(Both(training: r, crossbar: x)), as: UTF8.self))
        } else {
            defer {
                print(
                    String(
                        format:
                            "crossbar %@ (%d levels): noisy quantized read 512×784 at batch 20 %.1f µs vs ideal gemm "
                            + "%.1f µs (×%.2f); FFTW noise %.1f M samples/s; normals %.0f M/s",
                        x.device, dev.levels, x.noisyReadSeconds * 1e6, x.idealGemmSeconds * 1e6, x.ratio,
                        x.noiseSamplesPerSecond / 1e6, x.normalsPerSecond / 1e6))
                print(
                    String(
                        format:
                            "crossbar EP training (%@, all non-idealities on): %.0f samples/s vs %.0f ideal (×%.1f "
                            + "slower)",
                        x.device, x.trainingSamplesPerSecond, x.idealTrainingSamplesPerSecond,
                        x.trainingSlowdown))
                print(
                    String(
                        format: "  per sample: phases %.0f µs vs %.0f ideal, update %.0f µs vs %.0f ideal",
                        x.phasesSecondsPerSample * 1e6, r.epPhasesSecondsPerSample * 1e6,
                        x.updateSecondsPerSample * 1e6, r.epUpdateSecondsPerSample * 1e6))
                print(
                    String(
                        format:
                            "kernels timed against aihwkit (scripts/bench-vs-aihwkit): read 512×784 at batch 20 with "
                            + "aihwkit's default periphery %.1f µs; ecram pulse-train update at batch 20 %.1f µs",
                        x.ioReadSeconds * 1e6, x.pulseUpdateSeconds * 1e6))
                if let c = x.costsPerSample {
                    print(
                        String(
                            format:
                                "  simulated hardware per sample: energy %.3g J (cells read %.3g, converters %.3g, "
                                + "writes %.3g), latency %.3g s (reads %.3g, writes %.3g)",
                            c.energy, c.readEnergy, c.converterEnergy, c.writeEnergy, c.latency, c.readLatency,
                            c.writeLatency))
                }
            }
            print(
                String(
                    format: "%@ (T=%d, K=%d, batch %d), BLAS core %@%@, %d thread(s)", r.model, r.T, r.K, r.batchSize,
                    r.blasCore, r.blasRestartedFrom.map { " (restarted from its generic '\($0)' kernels)" } ?? "",
                    r.blasThreads))
            print(
                String(
                    format: "EP   %8.0f samples/s  %6.2f MFLOP/sample  %5.1f%% of sgemm 512³", r.epSamplesPerSecond,
                    r.epFlopsPerSample / 1e6, 100 * r.epFractionOfGemm))
            print(
                String(
                    format: "BPTT %8.0f samples/s  %6.2f MFLOP/sample  %5.1f%% of sgemm 512³", r.bpttSamplesPerSecond,
                    r.bpttFlopsPerSample / 1e6, 100 * r.bpttFractionOfGemm))
            print(
                String(
                    format: "sgemm %.1f GFLOP/s on [%d×784]·[784×512], %.1f GFLOP/s on 512³",
                    r.sgemmInputProjectionGflops, r.batchSize, r.sgemm512Gflops))
        }
    }

    /// P-conv: EP and BPTT samples/s, FLOPs per sample and the fraction of the sgemm rate.
    func convBench(_ spec: NetworkSpec) throws {
        let b = batches == 100 ? 5 : batches  // the FC default is far too long for P-conv
        struct Result: Encodable {
            let model: String, T: Int, K: Int, batch_size: Int, blas_core: String, blas_restarted_from: String?
            let blas_threads: Int, repeats: Int
            let ep_samples_per_s: Double, bptt_samples_per_s: Double, ep_flops_per_sample: Double,
                bptt_flops_per_sample: Double
            let sgemm_512_gflops: Double, ep_fraction_of_gemm: Double, bptt_fraction_of_gemm: Double
        }
        let ep = try Benchmarks.convThroughput(spec: spec, algorithm: .ep, batches: b, repeats: repeats)
        let bp = try Benchmarks.convThroughput(spec: spec, algorithm: .bptt, batches: b, repeats: repeats)
        let g = Benchmarks.sgemmGflops(m: 512, n: 512, k: 512)
        let fe = Benchmarks.convFlopsPerSample(spec, algorithm: .ep),
            fb = Benchmarks.convFlopsPerSample(spec, algorithm: .bptt)
        let r = Result(
            model: spec.name, T: spec.T, K: spec.K, batch_size: spec.batchSize, blas_core: BLASThreads.coreName,
            blas_restarted_from: BLASKernel.status.restartedFrom, blas_threads: BLASThreads.count, repeats: repeats,
            ep_samples_per_s: ep, bptt_samples_per_s: bp,
            ep_flops_per_sample: fe, bptt_flops_per_sample: fb, sgemm_512_gflops: g,
            ep_fraction_of_gemm: ep * fe / (g * 1e9), bptt_fraction_of_gemm: bp * fb / (g * 1e9))
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(r), as: UTF8.self))
            return
        }
        print(
            String(
                format: "%@ (T=%d, K=%d, batch %d), BLAS core %@, %d thread(s), %d batches × %d repeats", spec.name,
                spec.T, spec.K, spec.batchSize, BLASThreads.coreName, BLASThreads.count, b, repeats))
        print(
            String(
                format: "EP   %8.1f samples/s  %7.1f MFLOP/sample  %5.1f%% of sgemm 512³", ep, fe / 1e6,
                100 * r.ep_fraction_of_gemm))
        print(
            String(
                format: "BPTT %8.1f samples/s  %7.1f MFLOP/sample  %5.1f%% of sgemm 512³", bp, fb / 1e6,
                100 * r.bptt_fraction_of_gemm))
        print(String(format: "sgemm %.1f GFLOP/s on 512³", g))
    }
}
