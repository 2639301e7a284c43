import Foundation

/// Tiki-Taka (Gokmen & Haensch, Front. Neurosci. 2020; v2: Gokmen, Front. Artif. Intell. 2021;
/// aihwkit `TransferCompound`): two arrays of the same device, a fast array A that receives every
/// update and a slow array C, holding W = γ·A + C.
///
/// - **Update.** ΔW is programmed into A as ΔW/γ (so A's device steps are γ times finer in weight
///   units), as `programming` and `passes` say.
/// - **Transfer.** Every `transfer_every` updates, the next `transfer_columns` columns j of A (in
///   cyclic order; at most the fan-in) are read through A's own forward read path (one read of a
///   batch of one-hot inputs e_j: DAC, read noise, ADC), giving â_j. v1 sends C n pulses per device,
///   n = lr·γ·|â_j|/step rounded as `rounding` says (capped at `max_pulses`); v2 adds lr·γ·â_j to a
///   digital buffer H and pulses C where |H| reaches `transfer_threshold` device steps, H keeping the
///   remainder (mixed precision on C). The fraction lr is `transfer_lr`.
/// - **Move.** What was moved then leaves A, as pulses on A: v1 subtracts the n nominal steps C was
///   sent (n·step/γ), v2 the lr·â_j that went into H. So γ·A + C (+ H) is conserved up to the
///   devices' deviations from their nominal step, the read error and clipping, and what A holds
///   below the read's resolution (an ADC step) or below one pulse of C stays in A until it is large
///   enough. (Gokmen & Haensch leave A as it is and rely on the device's symmetric point to forget;
///   subtracting what was moved does the same for devices that have none, such as constant-step
///   devices.)
///
/// Reads of W for the dynamics go through the array's read path on γ·A + C; conductance (1/f,
/// telegraph) read noise is modelled on C's devices only (A's part of the read is γ-scaled).
///
/// Random streams (seed, layer): C uses the streams of a direct array (`xbar/<layer>/d2d`, `/faults`,
/// `/write`), A the same under `xbar/<layer>/fast`; transfer reads `xbar/<layer>/transfer/read` (and
/// its noise traces); per epoch e all of them under `xbar/<layer>/epoch<e>`.
final class TransferCompound: WeightStore {
    /// A (fast, receives the updates) and C (slow, receives the transfers).
    let fast: ProgrammedConductances, slow: ProgrammedConductances
    let gamma: Float, every: Int, columns: Int, lr: Float
    /// Tiki-Taka v2's digital buffer H between A and C (nil for v1).
    let buffer: MixedPrecisionAccumulator?
    /// The read path of transfer reads of A, and its clock (one step per transfer; per epoch).
    let transferPath: ReadPath
    private var transferClock = ReadClock()
    /// Updates since the last transfer, and the next column to transfer.
    private(set) var sinceTransfer = 0, nextColumn = 0
    private var transferReads = 0
    private var cachedWeights: Matrix<Float>?
    /// C's devices, then A's.
    var allConductances: [ConductanceStorage] { [slow.cells, fast.cells] }
    func conductancesChanged() { cachedWeights = nil }
    private var up: [Float] = [], down: [Float] = []

    init<L: DeviceLaw>(spec: DeviceSpec, law: L, weights w: Matrix<Float>, seed: UInt64, layer: Int) {
        var direct = spec
        direct.scheme = .direct  // A and C are pulsed as they are told; the compound does the accumulating
        slow = ProgrammedConductances(spec: direct, law: law, weights: w, seed: seed, tag: "xbar/\(layer)")
        fast = ProgrammedConductances(
            spec: direct, law: law, weights: Matrix(rows: w.rows, cols: w.cols), seed: seed, tag: "xbar/\(layer)/fast")
        gamma = Float(spec.gamma); every = spec.transferEvery; columns = min(spec.transferColumns, w.cols);
        lr = Float(spec.transferLr)
        buffer = spec.scheme == .tikiTakaV2 ? MixedPrecisionAccumulator(count: w.count, update: spec.update) : nil
        transferPath = ReadPath(
            spec.forward, conductances: (spec.gMin, spec.gMax), seed: seed, layer: layer, outputs: w.rows,
            inputs: w.cols,
            streamSuffix: "/transfer")
    }

    /// γ·A + C.
    var weights: Matrix<Float> {
        if let w = cachedWeights { return w }
        var w = slow.weights
        Elementwise.axpy(gamma, fast.weights, &w)
        cachedWeights = w
        return w
    }
    var conductances: ConductanceStorage? { slow.cells }
    var isExact: Bool { false }
    /// An update pulses A, whose weight counts γ times: one pulse changes the held weight by γ·unit.
    var pulseUnit: Float? { fast.pulseUnit.map { gamma * $0 } }

    func write(_ terms: [UpdateTerm], passes: UpdatePasses) {
        fast.write(terms.map { UpdateTerm(post: $0.post, pre: $0.pre, scale: $0.scale / gamma) }, passes: passes)
        cachedWeights = nil
        sinceTransfer += 1
        if sinceTransfer >= every { sinceTransfer = 0; transfer() }
    }

    /// Moves the next `columns` columns of A, as read, into C (v1) or H (v2).
    func transfer() {
        let rows = fast.cells.rows, cols = fast.cells.cols
        let picked = (0..<columns).map { (nextColumn + $0) % cols }
        nextColumn = (nextColumn + columns) % cols
        // One read of a batch of one-hot inputs: row k of `read` is â of column picked[k].
        var probe = Matrix<Float>(rows: columns, cols: cols)
        for (k, j) in picked.enumerated() { probe[k, j] = 1 }
        var read = Matrix<Float>(rows: columns, cols: rows)
        let lane = transferPath.isExact ? nil : transferPath.lane(for: transferClock)
        transferPath.read(
            probe, transposed: false, weights: fast.weights, storage: fast.cells, into: &read, accumulate: false,
            lane: lane, clock: transferClock)
        transferClock.step(); transferReads += 1
        transferPath.clearCaches()
        if up.count != rows * cols { up = [Float](repeating: 0, count: rows * cols); down = up }
        let step = slow.cells.pulseGain * slow.programmer.meanStep
        // What leaves A, per read column (weight units of A): v2 moves lr·â into H; v1 moves what C
        // was sent, so content that rounds to no pulse stays in A.
        var moved = Matrix<Float>(rows: columns, cols: rows)
        for (k, j) in picked.enumerated() {
            let values = (0..<rows).map { lr * gamma * read[k, $0] }
            if let h = buffer {
                h.transfer(
                    column: j, cols: cols, values: values, step: step, up: &up, down: &down, rng: &slow.programmer.rng)
                for r in 0..<rows { moved[k, r] = lr * read[k, r] }
            } else {
                for r in 0..<rows {
                    let m = count(values[r] / step)
                    up[r * cols + j] = values[r] > 0 ? m : 0; down[r * cols + j] = values[r] < 0 ? m : 0
                    moved[k, r] = (values[r] > 0 ? m : -m) * step / gamma
                }
            }
        }
        slow.programmer.program(
            up: up, down: down, into: slow.cells, pos: slow.responses.positive, neg: slow.responses.negative)
        for j in picked { for r in 0..<rows { up[r * cols + j] = 0; down[r * cols + j] = 0 } }
        fast.write([UpdateTerm(post: moved, pre: probe, scale: -1)], passes: .one)
        cachedWeights = nil
    }

    /// v1's pulse count for a transfer of `steps` device steps of C: |steps| rounded as `rounding`
    /// says (stochastic rounding draws from C's write stream), capped at `max_pulses`.
    private func count(_ steps: Float) -> Float {
        let a = abs(steps)
        var m = a.rounded(.down)
        switch slow.programmer.rounding {
        case .nearest: m = a.rounded()
        case .stochastic: if Float(slow.programmer.rng.uniform()) < a - m { m += 1 }
        }
        return min(m, slow.programmer.cap)
    }

    func reset(seed: UInt64, tag: String, epoch: Int) {
        slow.reset(seed: seed, tag: tag, epoch: epoch)
        fast.reset(seed: seed, tag: tag + "/fast", epoch: epoch)
        transferClock = ReadClock(epoch: epoch)
    }

    var writeCosts: ArrayCosts {
        var c = fast.writeCosts + slow.writeCosts
        c.reads = transferReads
        c.accumulatorOps = buffer?.accumulatorOps ?? 0
        return c
    }

    /// C's conductances under their usual names, A's as `fast_<name>`, H as `buffer` (v2), and the
    /// transfer position as `transfer` = [updates since the last transfer, next column].
    var state: [String: [Float]] {
        var s = slow.state
        for (k, v) in fast.state { s["fast_" + k] = v }
        if let h = buffer { s.merge(h.state("buffer")) { a, _ in a } }
        s["transfer"] = [Float(sinceTransfer), Float(nextColumn)]
        return s
    }

    func restore(_ s: [String: [Float]]) throws {
        var mine: [String: [Float]] = [:], theirs: [String: [Float]] = [:]
        for (k, v) in s {
            if k.hasPrefix("fast_") {
                theirs[String(k.dropFirst(5))] = v
            } else if k != "buffer" && k != "transfer" {
                mine[k] = v
            }
        }
        if let t = s["transfer"] {
            guard t.count == 2, t[0] >= 0, t[0] < Float(every), t[1] >= 0, t[1] < Float(fast.cells.cols),
                t.allSatisfy({ $0 == $0.rounded() })
            else {
                throw InputError(
                    "crossbar state 'transfer' must be [updates since the last transfer (0..<\(every)), next column "
                        + "(0..<\(fast.cells.cols))], got \(t)"
                )
            }
            sinceTransfer = Int(t[0]); nextColumn = Int(t[1])
        }
        if let h = buffer { try h.restore(s, key: "buffer") }
        try slow.restore(mine); try fast.restore(theirs)
        cachedWeights = nil
    }
}
