import Foundation

/// One weight matrix on a simulated memristive crossbar, composed of three parts:
///
/// - a **weight store**: device conductances (`ConductanceStorage`: mapping, faults, write noise,
///   grid) with the device law's per-device responses and the `PulseProgrammer`; or, for the `ideal`
///   device, the weights themselves written exactly (`ExactWeights`);
/// - a **read path** (`ReadPath`): the ordered periphery stages DAC → conductance noise (1/f,
///   telegraph) → white noise → ADC, and the read lanes (read at the caller's `ReadClock`);
/// - the **device law** (`DeviceLaw`): the pulse response and its device-to-device variation, built
///   from the preset's `model` or given by the caller.
///
/// The `ideal` device is exact storage with an empty periphery, so training on it is bit-identical to
/// the software engine (`DenseArray`).
///
/// Random streams (seed, layer): `xbar/<layer>/d2d` (device parameters), `/faults`, `/write`
/// (pulses, c2c, rounding), `/read` (white noise; `/read/lane<k>` for the k-th concurrently relaxed
/// part of a batch), `/noise/<forward|transposed>/<block>` (flicker and telegraph traces of one
/// block of steps); during training the write, read and noise streams are re-derived per epoch under
/// `xbar/<layer>/epoch<e>`.
public final class CrossbarArray: SynapticArray, @unchecked Sendable {
    /// Crossbar arrays compute in single precision.
    public typealias Scalar = Float
    /// The device preset the array was built from.
    public let spec: DeviceSpec
    /// Number of output units (rows of W).
    public let outputs: Int
    /// Number of input units (columns of W, the fan-in).
    public let inputs: Int
    let store: any WeightStore
    /// The periphery of forward reads, and of transposed reads (the same object unless the device
    /// has a `backward:` section).
    let readPath: ReadPath
    let backwardPath: ReadPath
    let seed: UInt64
    let layer: Int

    /// The array of a layer (out × in) holding `weights`, with the device law of `spec.model` and
    /// streams from (seed, layer).
    public convenience init(spec: DeviceSpec, weights w: Matrix<Float>, seed: UInt64, layer: Int) {
        if let law = spec.law {
            self.init(spec: spec, law: law, weights: w, seed: seed, layer: layer)
        } else {
            self.init(spec: spec, store: ExactWeights(w), weights: w, seed: seed, layer: layer)
        }
    }

    /// The array of a layer with a device law of your own: every other field of `spec` (mapping,
    /// variability, faults, grid, read path, programming) applies as for the built-in laws; `spec.model`
    /// is not consulted.
    public convenience init(spec: DeviceSpec, law: some DeviceLaw, weights w: Matrix<Float>, seed: UInt64, layer: Int) {
        let store: any WeightStore =
            spec.scheme.isTikiTaka
            ? TransferCompound(spec: spec, law: law, weights: w, seed: seed, layer: layer)
            : ProgrammedConductances(spec: spec, law: law, weights: w, seed: seed, tag: "xbar/\(layer)")
        self.init(spec: spec, store: store, weights: w, seed: seed, layer: layer)
    }

    init(spec: DeviceSpec, store: any WeightStore, weights w: Matrix<Float>, seed: UInt64, layer: Int) {
        self.spec = spec; self.seed = seed; self.layer = layer
        outputs = w.rows; inputs = w.cols
        self.store = store
        readEnergy = [
            EnergyModel(device: spec.device, io: spec.forward),
            EnergyModel(device: spec.device, io: spec.backward ?? spec.forward)
        ]
        let range = store.conductances != nil ? (gMin: spec.gMin, gMax: spec.gMax) : nil
        readPath = ReadPath(
            spec.forward, conductances: range, seed: seed, layer: layer, outputs: w.rows, inputs: w.cols)
        backwardPath =
            spec.backward.map {
                ReadPath(
                    $0, conductances: range, seed: seed, layer: layer, outputs: w.rows, inputs: w.cols,
                    streamSuffix: "/backward")
            } ?? readPath
    }

    /// Full-scale weight w_fs = w_max/√fan_in: a differential pair holds |W| ≤ w_fs.
    public var fullScale: Float { Float(spec.wMax / Double(inputs).squareRoot()) }
    /// Whether the weights are stored as device conductances (false for the `ideal` device).
    public var storesConductances: Bool { store.conductances != nil }

    /// Guards what concurrent reads share: the store's lazily built weights and noise weights, the
    /// read path's lanes, and the epoch of the write stream.
    let lock = NSLock()
    private var writeEpoch: Int?
    private var readCount = 0
    /// The energy model of forward and transposed reads, what reads have cost, and per direction the
    /// summed conductance of each driven line (rebuilt after the conductances change).
    private let readEnergy: [EnergyModel]
    /// Per read lane: concurrent lanes add in whatever order they run, so each keeps its own sums
    /// (deterministic: one lane is read by one thread in order) and `costs` adds them in lane order.
    private var readCosts: [Int: ArrayCosts] = [:]
    private var lineConductance: [[Double]?] = [nil, nil]

    /// Reads, pulses, devices pulsed, accumulator operations, conversions, energy and latency since
    /// the array was made.
    public var costs: ArrayCosts {
        lock.lock(); defer { lock.unlock() }
        var c = readCosts.keys.sorted().reduce(store.writeCosts) { $0 + readCosts[$1]! }
        c.reads += readCount
        return c
    }

    /// The conductances changed: derived sums are stale.
    func conductancesChanged() { lineConductance = [nil, nil] }

    // MARK: SynapticArray

    /// True when the read path has no stage (no converters, no read noise).
    public var readsAreExact: Bool { readPath.isExact && backwardPath.isExact }
    /// True when the weights are stored exactly (the `ideal` device).
    public var updatesAreExact: Bool { store.isExact }

    /// What the array holds now (programmed conductances, no read noise).
    public var weights: Matrix<Float> { lock.lock(); defer { lock.unlock() }; return store.weights }

    /// Forward read X·Wᵀ through the read path (DAC → conductance noise → white noise → ADC) at the
    /// clock's time.
    public func multiply(_ x: Matrix<Float>, into y: inout Matrix<Float>, accumulate: Bool, clock: ReadClock) {
        read(x, transposed: false, into: &y, accumulate: accumulate, clock: clock)
    }

    /// Transposed read Y·W through the same read path and devices.
    public func multiplyTransposed(_ y: Matrix<Float>, into x: inout Matrix<Float>, accumulate: Bool, clock: ReadClock)
    {
        read(y, transposed: true, into: &x, accumulate: accumulate, clock: clock)
    }

    func read(
        _ input: Matrix<Float>, transposed: Bool, into out: inout Matrix<Float>, accumulate: Bool, clock: ReadClock
    ) {
        let path = transposed ? backwardPath : readPath
        lock.lock()
        readCount += 1
        let w = store.weights, cells = store.conductances
        let model = readEnergy[transposed ? 1 : 0]
        var lines: [Double]? = nil
        if model.readV2T > 0, let c = cells {
            if lineConductance[0] == nil {
                let (columns, rows) = model.lineConductances(c)
                lineConductance = [columns, rows]
            }
            lines = lineConductance[transposed ? 1 : 0]
        }
        let lane = path.isExact ? nil : path.lane(for: clock)
        if path.traces != nil, let c = cells { _ = c.noiseWeights }
        lock.unlock()
        let cellEnergy: ((Matrix<Float>) -> Double)? =
            model.countsReads && model.readV2T > 0 ? lines.map { g in { model.cellEnergy($0, lines: g) } } : nil
        let e = path.read(
            input, transposed: transposed, weights: w, storage: cells, into: &out, accumulate: accumulate, lane: lane,
            clock: clock, cellEnergy: cellEnergy)
        if model.countsReads {
            // Counted outside the lock (concurrent lanes read the same array), then added under it.
            var cost = ArrayCosts()
            model.addRead(input, sensed: transposed ? inputs : outputs, cellEnergy: e, to: &cost)
            lock.lock(); readCosts[clock.lane] = readCosts[clock.lane, default: ArrayCosts()] + cost; lock.unlock()
        }
    }

    /// The weight change of one pulse at the device law's mean step (weight units; nil for the
    /// `ideal` device): the unit in which updates become pulse counts.
    public var pulseUnit: Float? { store.pulseUnit }

    /// Writes `scale`·postᵀ·pre as device pulses (exactly for the `ideal` device), with the write
    /// stream of the clock's epoch.
    public func update(post: Matrix<Float>, pre: Matrix<Float>, scale: Float, clock: ReadClock) {
        write([UpdateTerm(post: post, pre: pre, scale: scale)], clock: clock)
    }

    /// An update with the array's current write stream.
    public func update(post: Matrix<Float>, pre: Matrix<Float>, scale: Float) {
        update(post: post, pre: pre, scale: scale, clock: ReadClock())
    }

    /// One update of two terms (nudged +, free −): programmed as two passes, or one pass of the
    /// difference computed in the periphery (`passes: one`; always for mixed precision, whose χ
    /// takes the difference).
    public func updateContrastive(
        plus: (post: Matrix<Float>, pre: Matrix<Float>), minus: (post: Matrix<Float>, pre: Matrix<Float>),
        scale: Float, clock: ReadClock
    ) {
        write(
            [
                UpdateTerm(post: plus.post, pre: plus.pre, scale: scale),
                UpdateTerm(post: minus.post, pre: minus.pre, scale: -scale)
            ],
            clock: clock)
    }

    /// Programs the terms with the write stream of the clock's epoch (re-derived when it is new).
    func write(_ terms: [UpdateTerm], clock: ReadClock) {
        lock.lock(); defer { lock.unlock() }
        if let e = clock.epoch, e != writeEpoch {
            writeEpoch = e
            store.reset(seed: seed, tag: "xbar/\(layer)/epoch\(e)", epoch: e)
        }
        store.write(terms, passes: spec.passes)
        readPath.clearCaches(); backwardPath.clearCaches()  // the clean products of the read caches are stale
        conductancesChanged()
    }

    // MARK: State

    /// Device state for checkpoints: normalized conductances of G⁺ and G⁻ and write-noise draws
    /// (empty for the ideal device).
    public var state: [String: [Float]] { store.state }

    /// Restores `state` (device parameters and faults are re-drawn from the seed, so they match).
    public func restore(_ s: [String: [Float]]) throws {
        lock.lock(); defer { lock.unlock() }
        try store.restore(s)
        readPath.clearCaches(); backwardPath.clearCaches()
        conductancesChanged()
        readPath.outputGain = 1; backwardPath.outputGain = 1
    }

    /// Normalized conductances (G⁺, G⁻) of device (row, col): for tests and plots (under Tiki-Taka,
    /// of the slow array C; A's are in `state` as `fast_g_pos`, `fast_g_neg`).
    public func conductances(row: Int, col: Int) -> (Float, Float) {
        let i = row * inputs + col
        if let c = store.conductances { return (c.uPos[i], c.uNeg[i]) }
        let w = store.weights.storage[i], fs = fullScale
        return (0.5 + w / (2 * fs), 0.5 - w / (2 * fs))
    }

    /// Fault map (0 healthy, 1 stuck at G_min, 2 stuck at G_max) of the G⁺ and G⁻ devices (under
    /// Tiki-Taka, of C).
    public var faults: (positive: [UInt8], negative: [UInt8]) {
        (store.conductances?.stuckPos ?? [], store.conductances?.stuckNeg ?? [])
    }
}
