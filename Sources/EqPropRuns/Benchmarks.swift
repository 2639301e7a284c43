import EqProp
import Foundation

/// Throughput measurements for `xbar bench` (release builds; one BLAS thread).
public enum Benchmarks {
    /// EP and BPTT training throughput of one network, with the sgemm rates it is compared to.
    public struct Result: Codable, Sendable {
        /// Name of the network preset.
        public var model: String
        /// Free-phase steps T.
        public var T: Int
        /// Nudged-phase steps K.
        public var K: Int
        /// Examples per minibatch.
        public var batchSize: Int
        /// EP training throughput, samples/s (median over the timed epochs).
        public var epSamplesPerSecond: Double
        /// BPTT training throughput, samples/s (median over the timed epochs).
        public var bpttSamplesPerSecond: Double
        /// FLOPs per sample of EP training (matrix products only; `flopsPerSample`).
        public var epFlopsPerSample: Double
        /// FLOPs per sample of BPTT training (matrix products only; `flopsPerSample`).
        public var bpttFlopsPerSample: Double
        /// sgemm on the input-projection shape [B×784]·[784×512] and on 512³, GFLOP/s.
        public var sgemmInputProjectionGflops: Double
        /// sgemm rate on 512³, GFLOP/s.
        public var sgemm512Gflops: Double
        /// Achieved GFLOP/s of training over the 512³ sgemm rate.
        public var epFractionOfGemm: Double
        /// Achieved GFLOP/s of BPTT training over the 512³ sgemm rate.
        public var bpttFractionOfGemm: Double
        /// EP wall time per sample in the phases and in the update (s).
        public var epPhasesSecondsPerSample: Double
        /// EP wall time per sample in the update (s).
        public var epUpdateSecondsPerSample: Double
        /// The CPU core type OpenBLAS selected its kernels for.
        public var blasCore: String
        /// The generic core type OpenBLAS chose first, when `xbar` restarted onto `blasCore`
        /// (``BLASKernel``); nil when it did not.
        public var blasRestartedFrom: String?
        /// Number of OpenBLAS threads during the measurement.
        public var blasThreads: Int
        /// Timed epochs per algorithm.
        public var repeats: Int
        enum CodingKeys: String, CodingKey {
            case model, T, K, batchSize = "batch_size", epSamplesPerSecond = "ep_samples_per_s"
            case bpttSamplesPerSecond = "bptt_samples_per_s", epFlopsPerSample = "ep_flops_per_sample"
            case bpttFlopsPerSample = "bptt_flops_per_sample", sgemmInputProjectionGflops =
                "sgemm_input_projection_gflops"
            case sgemm512Gflops = "sgemm_512_gflops", epFractionOfGemm = "ep_fraction_of_gemm"
            case bpttFractionOfGemm = "bptt_fraction_of_gemm", blasCore = "blas_core", blasThreads = "blas_threads",
                repeats, blasRestartedFrom = "blas_restarted_from"
            case epPhasesSecondsPerSample = "ep_phases_s_per_sample", epUpdateSecondsPerSample =
                "ep_update_s_per_sample"
        }
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted();
        return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }

    /// Median GFLOP/s of `C = A·B` for an m×k by k×n product (timed calls ≥ `seconds` in total).
    public static func sgemmGflops(m: Int, n: Int, k: Int, seconds: Double = 0.3) -> Double {
        var rng = RandomStream(seed: 1, stream: "bench")
        let a = Matrix<Float>(rows: m, cols: k, storage: (0..<(m * k)).map { _ in Float(rng.uniform() - 0.5) })
        let b = Matrix<Float>(rows: k, cols: n, storage: (0..<(k * n)).map { _ in Float(rng.uniform() - 0.5) })
        var c = Matrix<Float>(rows: m, cols: n)
        gemm(a, b, into: &c)
        var times: [Double] = []
        let start = Date()
        while Date().timeIntervalSince(start) < seconds || times.count < 5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            gemm(a, b, into: &c)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return 2 * Double(m * n * k) / median(times) / 1e9
    }

    /// FLOPs per training sample of a one-hidden-layer P network (matrix products only).
    public static func flopsPerSample(_ s: NetworkSpec, algorithm: Algorithm) -> Double {
        precondition(s.layers.count == 3)
        let n0 = Double(s.layers[0]), n1 = Double(s.layers[1]), n2 = Double(s.layers[2])
        let T = Double(s.T), K = Double(s.K)
        let inputRead = 2 * n0 * n1, stepReads = 4 * n1 * n2
        switch algorithm {
        case .ep:
            // input read once; two reads of W12 per step; one rank-B update of the input matrix
            // (the input is the same in both phases), two of W12.
            return inputRead + stepReads * (T + K) + 2 * n0 * n1 + 4 * n1 * n2
        case .bptt:
            // forward T steps; per back-propagated step: drives, W12 gradient (2 products), λ (2 products);
            // one input-weight gradient from the summed δ.
            return inputRead + stepReads * T + (K + 1) * 3 * stepReads + 2 * n0 * n1
        }
    }

    /// FLOPs per training sample of a P-conv network (convolutions and products only; im2col,
    /// pooling and elementwise work not counted). The first layer's convolution of the static input
    /// is done once per batch; every step runs each deeper convolution forward and transposed.
    public static func convFlopsPerSample(_ s: NetworkSpec, algorithm: Algorithm) -> Double {
        let g = s.convGeometry!, m = g.convLayers
        func conv(_ l: Int) -> Double {
            Double(g.convSide(l) * g.convSide(l) * g.channels[l] * g.kernel * g.kernel * g.channels[l - 1])
        }
        let fc = Double(g.classes * g.units(m))
        let deep = m >= 2 ? (2...m).map(conv).reduce(0, +) : 0
        let step = 2 * deep + 2 * fc
        let T = Double(s.T), K = Double(s.K)
        switch algorithm {
        case .ep:
            // Φ derivatives at the two phase ends: deeper convs forward again + all correlations.
            let phi = (1...m).map(conv).reduce(0, +) + deep + fc
            return 2 * (conv(1) + (T + K) * step + 2 * phi)
        case .bptt:
            // Forward T steps; each of K adjoint steps recomputes its step and runs 4 deep-conv-sized
            // products, the first layer's correlation and 4 classifier products.
            return 2 * (conv(1) + T * step + K * (step + 4 * deep + conv(1) + 4 * fc))
        }
    }

    /// Samples/s of training a P-conv network on synthetic data (median of `repeats` epochs).
    public static func convThroughput(spec: NetworkSpec, algorithm: Algorithm, batches: Int, repeats: Int) throws
        -> Double
    {
        let g = spec.convGeometry!
        let data = DataSet.synthetic(
            features: g.image * g.image * g.channels[0], train: spec.batchSize * batches, test: 10, seed: 1)
        var options = TrainingOptions(algorithm: algorithm, seed: 1, dataset: "synthetic")
        options.evalBatchSize = 10
        var trainer = try AnyTrainer(
            spec: spec, parameters: .initial(spec: spec, seed: 1), options: options, data: data)
        var rates: [Double] = []
        for r in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = trainer.trainEpoch(r)
            rates.append(Double(data.train.count) / (Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9))
        }
        return median(rates)
    }

    /// Training speed: samples/s (median over the timed epochs) and where the wall time went, per
    /// sample (mean over the timed epochs): the phases and the update (`Trainer.Timing`).
    public struct Throughput: Sendable {
        /// Training throughput, samples/s (median over the timed epochs).
        public var samplesPerSecond: Double
        /// Wall time per sample in the relaxation phases (s).
        public var phasesSecondsPerSample: Double
        /// Wall time per sample in the update (s).
        public var updateSecondsPerSample: Double
        /// The hardware work of one timed epoch per sample (nil on ideal weights): its energy (J)
        /// and latency (s) are the energy model's (`ArrayCosts`).
        public var costsPerSample: ArrayCosts? = nil
    }

    /// Training speed of P-1h (or `spec`) on synthetic 784-pixel data, over `repeats` epochs.
    public static func trainingThroughput(
        spec: NetworkSpec, algorithm: Algorithm, batches: Int, repeats: Int, device: DeviceSpec? = nil
    ) throws -> Throughput {
        let data = DataSet.synthetic(features: spec.layers[0], train: spec.batchSize * batches, test: 10, seed: 1)
        var options = TrainingOptions(algorithm: algorithm, seed: 1, dataset: "synthetic")
        options.evalBatchSize = 10
        options.device = device
        var trainer = try AnyTrainer(
            spec: spec, parameters: .initial(spec: spec, seed: 1), options: options, data: data)
        return time(&trainer, repeats: repeats, samples: data.train.count)
    }

    static func time(_ trainer: inout AnyTrainer, repeats: Int, samples: Int) -> Throughput {
        _ = trainer.trainEpoch(0)  // warm-up
        trainer.restartTiming()
        var rates: [Double] = []
        for r in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = trainer.trainEpoch(r + 1)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            rates.append(Double(samples) / dt)
        }
        let t = trainer.timing, n = Double(max(t.samples, 1))
        var out = Throughput(
            samplesPerSecond: median(rates), phasesSecondsPerSample: t.phasesSeconds / n,
            updateSecondsPerSample: t.updateSeconds / n)
        out.costsPerSample = trainer.lastEpochCosts.map { $0.perSample(samples) }
        return out
    }

    /// One noisy, quantized forward read of an out × in crossbar at batch B, against the ideal gemm
    /// of the same shape in the same run (median seconds), and the FFTW synthesizer's noise rate.
    public struct CrossbarResult: Codable, Sendable {
        /// Name of the device preset.
        public var device: String
        /// Array shape [out, in].
        public var shape: [Int]
        /// Batch size B of the read.
        public var batchSize: Int
        /// Median time of one crossbar forward read (s).
        public var noisyReadSeconds: Double
        /// Median time of the ideal gemm of the same shape (s).
        public var idealGemmSeconds: Double
        /// Crossbar read time over ideal gemm time.
        public var ratio: Double
        /// Flicker-noise samples per second of the FFTW synthesizer (4096-sample traces).
        public var noiseSamplesPerSecond: Double
        /// Standard normals per second of `RandomStream.fillNormal` (white read noise, c2c).
        public var normalsPerSecond: Double = 0
        /// P-1h EP training on this device (all its non-idealities on) vs on ideal weights, same run.
        public var trainingSamplesPerSecond: Double = 0
        /// P-1h EP training on ideal weights, samples/s, measured in the same run.
        public var idealTrainingSamplesPerSecond: Double = 0
        /// Crossbar training time over ideal training time, same run (ideal / crossbar samples/s).
        public var trainingSlowdown: Double = 0
        /// Crossbar training wall time per sample (s): relaxation phases (every read through the noisy
        /// read path) and update (device programming).
        public var phasesSecondsPerSample: Double = 0
        /// Crossbar training wall time per sample in the update (device programming), s.
        public var updateSecondsPerSample: Double = 0
        /// The hardware work of a crossbar training sample: conversions, energy (J) and latency (s).
        public var costsPerSample: ArrayCosts? = nil
        /// Median time of one read at aihwkit's default periphery (`ioRead`), s per batch.
        public var ioReadSeconds: Double = 0
        /// Median time of one stochastic pulse-train update at EP's update sizes (`pulseUpdate`), s per batch.
        public var pulseUpdateSeconds: Double = 0
        enum CodingKeys: String, CodingKey {
            case device, shape, batchSize = "batch_size", noisyReadSeconds = "noisy_read_s", idealGemmSeconds =
                "ideal_gemm_s"
            case ratio, noiseSamplesPerSecond = "noise_samples_per_s", normalsPerSecond = "normals_per_s"
            case trainingSamplesPerSecond = "crossbar_training_samples_per_s", idealTrainingSamplesPerSecond =
                "ideal_training_samples_per_s", trainingSlowdown = "crossbar_slowdown"
            case phasesSecondsPerSample = "crossbar_phases_s_per_sample", updateSecondsPerSample =
                "crossbar_update_s_per_sample"
            case costsPerSample = "crossbar_costs_per_sample"
            case ioReadSeconds = "io_read_s", pulseUpdateSeconds = "pulse_update_s"
        }
    }

    static func medianTime(_ seconds: Double = 0.3, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        let start = Date()
        while Date().timeIntervalSince(start) < seconds || times.count < 5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return median(times)
    }

    /// Times a forward read of an out × in crossbar of `device` at batch `batch` against the ideal gemm,
    /// and the noise and normal-sampling rates (training fields are left 0).
    public static func crossbar(device: DeviceSpec, outputs: Int = 512, inputs: Int = 784, batch: Int = 20)
        throws -> CrossbarResult
    {
        var rng = RandomStream(seed: 1, stream: "bench")
        let w = Matrix<Float>(
            rows: outputs, cols: inputs, storage: (0..<(outputs * inputs)).map { _ in Float(rng.uniform(-0.05, 0.05)) })
        let x = Matrix<Float>(
            rows: batch, cols: inputs, storage: (0..<(batch * inputs)).map { _ in Float(rng.uniform()) })
        let x2 = Matrix<Float>(
            rows: batch, cols: inputs, storage: (0..<(batch * inputs)).map { _ in Float(rng.uniform()) })
        let arr = CrossbarArray(spec: device, weights: w, seed: 1, layer: 0)
        let dense = DenseArray(w)
        var y = Matrix<Float>(rows: batch, cols: outputs)
        // Alternate two inputs so that no read reuses the previous one's clean product.
        var flip = false
        let clock = ReadClock()
        let noisy = medianTime {
            flip.toggle(); arr.multiply(flip ? x : x2, into: &y, accumulate: false, clock: clock); clock.step()
        }
        let ideal = medianTime { dense.multiply(x, into: &y, accumulate: false) }
        let synth = NoiseSynthesizer(spectrum: .flicker(k: 1e-4, gamma: 1), length: 4096, dt: 1e-6)
        var nrng = RandomStream(seed: 2, stream: "bench-noise")
        let traceTime = medianTime { _ = synth.trace(using: &nrng) }
        var gauss = [Float](repeating: 0, count: 1 << 16)
        let gaussTime = medianTime { gauss.withUnsafeMutableBufferPointer { nrng.fillNormal($0, sigma: 1) } }
        var r = CrossbarResult(
            device: device.name, shape: [outputs, inputs], batchSize: batch, noisyReadSeconds: noisy,
            idealGemmSeconds: ideal, ratio: noisy / ideal, noiseSamplesPerSecond: 4096 / traceTime,
            normalsPerSecond: Double(gauss.count) / gaussTime)
        r.ioReadSeconds = ioRead(outputs: outputs, inputs: inputs, batch: batch)
        r.pulseUpdateSeconds = try pulseUpdate(outputs: outputs, inputs: inputs, batch: batch)
        return r
    }

    // MARK: The kernels timed side by side with aihwkit
    //
    // `scripts/bench-vs-aihwkit` times the same two kernels in IBM aihwkit (1.2.0, CPU) on the same
    // work; the workload below and the script's must stay the same.

    /// The inputs and weights of the side-by-side kernels (stream `bench/kernels`): x ~ U[0, 1)
    /// (B × in, two sets, alternated so that no read reuses the previous one's product), W ~ U(±0.05),
    /// and EP-sized error signals d ~ N(0, 0.02²) (B × out).
    static func kernelData(outputs: Int, inputs: Int, batch: Int)
        -> (w: Matrix<Float>, x: [Matrix<Float>], d: [Matrix<Float>])
    {
        var rng = RandomStream(seed: 1, stream: "bench/kernels")
        func matrix(_ r: Int, _ c: Int, _ f: (inout RandomStream) -> Float) -> Matrix<Float> {
            Matrix(rows: r, cols: c, storage: (0..<(r * c)).map { _ in f(&rng) })
        }
        let w = matrix(outputs, inputs) { Float($0.uniform(-0.05, 0.05)) }
        let x = (0..<2).map { _ in matrix(batch, inputs) { Float($0.uniform()) } }
        let d = (0..<2).map { _ in matrix(batch, outputs) { 0.02 * Float($0.normal()) } }
        return (w, x, d)
    }

    /// One forward read of an out × in array at batch B with aihwkit's default periphery
    /// (`IOParameters()`: 7-bit DAC at bound 1, additive output noise σ = 0.06, 9-bit ADC at bound 12),
    /// on exactly stored weights: median seconds per read.
    public static func ioRead(outputs: Int = 512, inputs: Int = 784, batch: Int = 20) -> Double {
        var spec = DeviceSpec()
        spec.name = "ideal+aihwkit-io"
        spec.dacBits = 7; spec.dacBound = 1; spec.adcBits = 9; spec.adcBound = 12; spec.whiteNoise = 0.06
        let (w, x, _) = kernelData(outputs: outputs, inputs: inputs, batch: batch)
        let arr = CrossbarArray(spec: spec, weights: w, seed: 1, layer: 0)
        var y = Matrix<Float>(rows: batch, cols: outputs)
        var k = 0
        let clock = ReadClock()
        return medianTime {
            k ^= 1; arr.multiply(x[k], into: &y, accumulate: false, clock: clock); clock.step()
        }
    }

    /// One stochastic pulse-train update of an out × in `ecram` array (aihwkit's EcRamPresetDevice), one
    /// device per weight (`mapping: reference`, as an aihwkit tile), at batch B with aihwkit's default update management (BL 31, bit-line and update management):
    /// ΔW = −lr·Σ_b d_b·x_bᵀ with lr = 0.01 in aihwkit's weight units (dw_min 0.002), so that the
    /// largest element of a sample expects about 0.3 pulses, as in EP. Median seconds per update.
    public static func pulseUpdate(outputs: Int = 512, inputs: Int = 784, batch: Int = 20) throws -> Double {
        var spec = try DeviceSpec.load("ecram")
        spec.mapping = .reference  // one device per weight, as an aihwkit tile's
        let (w, x, d) = kernelData(outputs: outputs, inputs: inputs, batch: batch)
        let arr = CrossbarArray(spec: spec, weights: w, seed: 1, layer: 0)
        guard let unit = arr.pulseUnit else {
            throw InputError("the ecram preset stores its weights exactly: no pulse-train update to time")
        }
        // aihwkit's lr/dw_min pulses per unit of d·x, in this array's weight units.
        let scale = -0.01 / 0.002 * unit
        var k = 0
        return medianTime {
            k ^= 1; arr.update(post: d[k], pre: x[k], scale: scale)
        }
    }

    /// Measures EP and BPTT training of a one-hidden-layer P network (`spec`) on synthetic data and the
    /// sgemm rates on its input-projection shape and on 512³.
    public static func run(spec: NetworkSpec, batches: Int = 100, repeats: Int = 5) throws -> Result {
        let epRun = try trainingThroughput(spec: spec, algorithm: .ep, batches: batches, repeats: repeats)
        let ep = epRun.samplesPerSecond
        let bp = try trainingThroughput(spec: spec, algorithm: .bptt, batches: batches, repeats: repeats)
            .samplesPerSecond
        let g1 = sgemmGflops(m: spec.batchSize, n: spec.layers[1], k: spec.layers[0])
        let g2 = sgemmGflops(m: 512, n: 512, k: 512)
        let fe = flopsPerSample(spec, algorithm: .ep), fb = flopsPerSample(spec, algorithm: .bptt)
        return Result(
            model: spec.name, T: spec.T, K: spec.K, batchSize: spec.batchSize,
            epSamplesPerSecond: ep, bpttSamplesPerSecond: bp, epFlopsPerSample: fe, bpttFlopsPerSample: fb,
            sgemmInputProjectionGflops: g1, sgemm512Gflops: g2,
            epFractionOfGemm: ep * fe / (g2 * 1e9), bpttFractionOfGemm: bp * fb / (g2 * 1e9),
            epPhasesSecondsPerSample: epRun.phasesSecondsPerSample,
            epUpdateSecondsPerSample: epRun.updateSecondsPerSample,
            blasCore: BLASThreads.coreName, blasRestartedFrom: BLASKernel.status.restartedFrom,
            blasThreads: BLASThreads.count, repeats: repeats)
    }
}
