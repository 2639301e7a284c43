import Foundation

/// One stage of an array's read periphery. A read drives the input through every stage's `drive`
/// (in order), forms the product with the held weights, then passes the sensed output through every
/// stage's `sense` (in order): DAC → product (IR drop) → conductance noise → white noise → ADC.
/// New periphery effects (IR drop, drift) are new stages; nothing else changes.
protocol ReadStage: AnyObject {
    /// Transforms the input lines' values before they drive the array (B × lines in).
    func drive(_ x: inout Matrix<Float>)
    /// Transforms the sensed output (B × lines out) of one read.
    func sense(_ y: inout Matrix<Float>, _ read: ReadContext)
    /// Corrects the clean product of the driven input before it is cached (deterministic effects of
    /// the array's circuit, such as IR drop): `direction` 0 forward, 1 transposed.
    func correct(_ y: inout Matrix<Float>, driven: Matrix<Float>, storage: ConductanceStorage?, direction: Int)
    /// The held weights changed (what a stage derived from them is stale).
    func weightsChanged()
}

extension ReadStage {
    func drive(_ x: inout Matrix<Float>) {}
    func sense(_ y: inout Matrix<Float>, _ read: ReadContext) {}
    func correct(_ y: inout Matrix<Float>, driven: Matrix<Float>, storage: ConductanceStorage?, direction: Int) {}
    func weightsChanged() {}
}

/// What a stage may use of the read in progress.
struct ReadContext {
    /// 0 forward (rows sensed), 1 transposed (columns sensed).
    let direction: Int
    /// The input after the input stages (what drove the lines).
    let driven: Matrix<Float>
    /// The read lane: its clock, its white-noise stream and its caches.
    let lane: ReadLane
    /// The array's stored conductances (nil for exactly stored weights).
    let storage: ConductanceStorage?
    /// The trace block and the sample within it at the clock's time.
    let block: Int, sample: Int
}

/// A DAC or ADC: symmetric mid-tread quantizer with step 2·bound/(2^bits − 2), 2^bits − 1 levels,
/// clipped at ±bound (aihwkit's convention), rounding to the nearest level.
final class Converter: ReadStage {
    enum Side { case input, output }
    let side: Side, bits: Int, bound: Float
    init(_ side: Side, bits: Int, bound: Double) { self.side = side; self.bits = bits; self.bound = Float(bound) }

    func drive(_ x: inout Matrix<Float>) {
        if side == .input { x.storage.withUnsafeMutableBufferPointer { Self.quantize($0, bits: bits, bound: bound) } }
    }
    func sense(_ y: inout Matrix<Float>, _ read: ReadContext) {
        if side == .output { y.storage.withUnsafeMutableBufferPointer { Self.quantize($0, bits: bits, bound: bound) } }
    }

    @inline(__always)
    static func quantize(_ p: UnsafeMutableBufferPointer<Float>, bits: Int, bound: Float) {
        if bits == 0 { return }
        let step = 2 * bound / Float((1 << bits) - 2), inv = 1 / step
        // Round to nearest (ties to even) with the 1.5·2^23 trick: |v/step| ≤ 2^23, and it vectorizes.
        let magic: Float = 12_582_912
        for i in 0..<p.count {
            let v = min(max(p[i], -bound), bound)
            p[i] = ((v * inv + magic) - magic) * step
        }
    }
}

/// White read noise: σ·ξ per output value and read, in output (weight × input) units, drawn from the
/// lane's `…/read` stream.
final class WhiteReadNoise: ReadStage {
    let sigma: Float
    init(sigma: Double) { self.sigma = Float(sigma) }
    func sense(_ y: inout Matrix<Float>, _ read: ReadContext) {
        let lane = read.lane, n = y.count
        if lane.white.count < n { lane.white = [Float](repeating: 0, count: n) }
        var rng = lane.rng
        lane.white.withUnsafeMutableBufferPointer { pw in
            rng.fillNormal(UnsafeMutableBufferPointer(rebasing: pw[0..<n]), sigma: sigma)
            y.storage.withUnsafeMutableBufferPointer { py in for i in 0..<n { py[i] += pw[i] } }
        }
        lane.rng = rng
    }
}

/// Time-correlated conductance noise, output-referred: each output line i gets
/// w_fs·√(Σ_j H_ij x_j²)·ν_i(t), with H = (u⁺ + r)² + (u⁻ + r)² and ν_i(t) the relative conductance
/// noise of line i at the lane's simulated time: flicker (1/f^γ) plus telegraph (Lorentzian) traces
/// synthesized with FFTW. For a constant input this has the variance α²σ_ν²Σ_j(G⁺² + G⁻²)x_j² and the
/// spectrum of independent per-device noise (multiplicative, Hooge); ν is shared across the batch
/// (all rows are read at the same instant). The transposed read uses its own traces, one per input
/// line. Needs stored conductances (a no-op on exactly stored weights).
final class ConductanceNoise: ReadStage {
    let synthesizers: [NoiseSynthesizer]
    let traces: TraceSource
    init(synthesizers: [NoiseSynthesizer], traces: TraceSource) {
        self.synthesizers = synthesizers; self.traces = traces
    }

    func sense(_ y: inout Matrix<Float>, _ read: ReadContext) {
        guard let cells = read.storage else { return }
        let lane = read.lane, slot = read.direction
        // root[b, line] = √(Σ_k H[line,k]·x[b,k]²) (forward) or √(Σ_k H[k,line]·x[b,k]²) (transposed):
        // depends only on the input and the held conductances, so it is cached with the lane's clean
        // product (a constant input, the data x, is summed and rooted once per update).
        let cache = lane.cache[slot]!
        if cache.noiseRoot == nil {
            var x2 = read.driven
            x2.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= p[i] } }
            var s2 = Matrix<Float>(rows: y.rows, cols: y.cols)
            let h = cells.noiseWeights
            if slot == 1 { gemm(x2, h, into: &s2) } else { gemm(x2, h, transposeB: true, into: &s2) }
            s2.storage.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = FastMath.sqrt(p[i]) } }
            cache.noiseRoot = s2
        }
        if lane.traceBlock[slot] != read.block {
            lane.traces[slot] = traces.block(read.block, transposed: slot == 1)
            lane.traceBlock[slot] = read.block
        }
        let tr = lane.traces[slot]!
        let rows = y.rows, cols = y.cols, nuStart = read.sample * cols, fs = cells.fullScale
        tr.values.withUnsafeBufferPointer { pn in
            cache.noiseRoot!.storage.withUnsafeBufferPointer { ps in
                y.storage.withUnsafeMutableBufferPointer { py in
                    for r in 0..<rows {
                        let base = r &* cols
                        for c in 0..<cols { py[base &+ c] += fs * ps[base &+ c] * pn[nuStart &+ c] }
                    }
                }
            }
        }
    }
}

/// Blocks of relative-conductance noise traces, numbered from the start of the epoch. Each
/// direction's block k is drawn from its own stream (`…/noise/<forward|transposed>/<k>`) when a lane
/// first needs it, so it does not depend on which lane gets there first, and the transposed traces of
/// a layer that is never read transposed (the input layer) are never drawn. Only the newest two
/// blocks are kept; a lane that falls further behind draws its block again, with the same values.
final class TraceSource: @unchecked Sendable {
    /// Noise of the lines of one read direction for `usable` consecutive steps, time-major
    /// (`values[t·lines + line]`), so that one step's values are contiguous.
    struct Block { let lines: Int; let values: [Float] }
    let synthesizers: [NoiseSynthesizer]
    let seed: UInt64
    let outputs: Int, inputs: Int
    /// Stream prefix: `xbar/<layer>`, then `xbar/<layer>/epoch<e>` once epochs run.
    var tag: String
    private var blocks: [Int: Block] = [:]
    private let lock = NSLock()

    init(synthesizers: [NoiseSynthesizer], seed: UInt64, tag: String, outputs: Int, inputs: Int) {
        self.synthesizers = synthesizers; self.seed = seed; self.tag = tag; self.outputs = outputs; self.inputs = inputs
    }

    /// Steps per block.
    var usable: Int { synthesizers[0].usable }

    func reset(tag: String) { lock.lock(); blocks = [:]; self.tag = tag; lock.unlock() }

    /// Block k of the noise of every line of one direction (the sum of the components).
    func block(_ k: Int, transposed: Bool) -> Block {
        lock.lock(); defer { lock.unlock() }
        let key = 2 * k + (transposed ? 1 : 0)
        if let b = blocks[key] { return b }
        var rng = RandomStream(seed: seed, stream: tag + "/noise/" + (transposed ? "transposed" : "forward") + "/\(k)")
        let lines = transposed ? inputs : outputs, steps = usable
        // Each line's trace is summed where it is contiguous (line-major), then the block is transposed
        // to step-major in tiles: adding into a column of the step-major block touched a new cache
        // line per step. Same sums, in the same order.
        var byLine = [Float](repeating: 0, count: lines * steps)
        byLine.withUnsafeMutableBufferPointer { bl in
            guard let base = bl.baseAddress else { return }
            for line in 0..<lines {
                let row = base + line &* steps
                for s in synthesizers {
                    let tr = s.trace(using: &rng)
                    precondition(tr.count >= steps, "a noise trace is shorter than its block")
                    tr.withUnsafeBufferPointer { t in for i in 0..<steps { row[i] += t[i] } }
                }
            }
        }
        // Every element is written by the transpose, so the block starts uninitialized.
        let values = [Float](unsafeUninitializedCapacity: lines * steps) { v, count in
            byLine.withUnsafeBufferPointer { bl in
                guard let out = v.baseAddress, let base = bl.baseAddress else { return }
                let tile = 32
                for l0 in stride(from: 0, to: lines, by: tile) {
                    let l1 = min(l0 + tile, lines)
                    for t0 in stride(from: 0, to: steps, by: tile) {
                        for t in t0..<min(t0 + tile, steps) {
                            for l in l0..<l1 { out[t &* lines &+ l] = base[l &* steps &+ t] }
                        }
                    }
                }
            }
            count = lines * steps
        }
        let b = Block(lines: lines, values: values)
        blocks = blocks.filter { $0.key / 2 >= k - 1 }
        blocks[key] = b
        return b
    }
}
