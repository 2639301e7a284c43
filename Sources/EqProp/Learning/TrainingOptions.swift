/// The training algorithm of a run.
public enum Algorithm: String, Codable, Sendable, CaseIterable {
    /// Equilibrium Propagation (free + nudged phases, local update).
    case ep
    /// Truncated BPTT through the last K+1 steps (the seed's baseline), same data, init and SGD.
    case bptt
}

/// Options of a training run that are not properties of the network.
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// EP or truncated BPTT.
    public var algorithm: Algorithm
    /// Seed of the run: initialization, data order, training subset, and the arrays' and neurons'
    /// random streams.
    public var seed: UInt64
    /// Data set name or folder (see `DataSet.load`).
    public var dataset: String
    /// Train on the first N examples of a seeded permutation of the training set (nil = all).
    public var trainSubset: Int?
    /// Evaluate on the first N test examples (nil = all).
    public var testSubset: Int?
    /// Batch size for evaluation (does not change results beyond float rounding).
    public var evalBatchSize: Int
    /// BPTT window in transitions (nil = K + 1, the seed's truncation).
    public var bpttWindow: Int?
    /// Each mini-batch is split into this many fixed chunks whose phases run concurrently (one per
    /// core); ideal weights sum the chunks' updates, crossbars read through one lane per chunk and
    /// are programmed once with the whole batch's update. Results depend on this number, never on
    /// the core count.
    public var chunks: Int
    /// The device every weight matrix lives on (nil = ideal software weights).
    public var device: DeviceSpec?
    /// Run the fidelity probe on every N-th batch (0 = never); results go to the log.
    public var probeEvery: Int
    /// Batches per probe: the change accumulated over this many consecutive batches, from a probed
    /// batch on, against the sum of their exact steps (1 = the probed batch alone; ≤ `probeEvery`).
    public var probeWindow: Int

    enum CodingKeys: String, CodingKey {
        case algorithm, seed, dataset, trainSubset = "train_subset", testSubset = "test_subset"
        case evalBatchSize = "eval_batch_size", bpttWindow = "bptt_window", chunks, device, probeEvery = "probe_every"
        case probeWindow = "probe_window"
    }

    /// Decodes options (e.g. from a checkpoint); absent `chunks`, `probe_every` and `probe_window`
    /// default to 2, 0 and 1.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        algorithm = try c.decode(Algorithm.self, forKey: .algorithm)
        seed = try c.decode(UInt64.self, forKey: .seed)
        dataset = try c.decode(String.self, forKey: .dataset)
        trainSubset = try c.decodeIfPresent(Int.self, forKey: .trainSubset)
        testSubset = try c.decodeIfPresent(Int.self, forKey: .testSubset)
        evalBatchSize = try c.decode(Int.self, forKey: .evalBatchSize)
        bpttWindow = try c.decodeIfPresent(Int.self, forKey: .bpttWindow)
        chunks = try c.decodeIfPresent(Int.self, forKey: .chunks) ?? 2
        device = try c.decodeIfPresent(DeviceSpec.self, forKey: .device)
        probeEvery = try c.decodeIfPresent(Int.self, forKey: .probeEvery) ?? 0
        probeWindow = try c.decodeIfPresent(Int.self, forKey: .probeWindow) ?? 1
    }

    /// Options from their fields; by default EP, seed 1, fashion-mnist, all data, two chunks, ideal weights.
    public init(
        algorithm: Algorithm = .ep, seed: UInt64 = 1, dataset: String = "fashion-mnist",
        trainSubset: Int? = nil, testSubset: Int? = nil, evalBatchSize: Int = 1000, bpttWindow: Int? = nil,
        chunks: Int = 2, device: DeviceSpec? = nil, probeEvery: Int = 0, probeWindow: Int = 1
    ) {
        self.algorithm = algorithm; self.seed = seed; self.dataset = dataset; self.trainSubset = trainSubset
        self.testSubset = testSubset; self.evalBatchSize = evalBatchSize; self.bpttWindow = bpttWindow
        self.chunks = chunks; self.device = device; self.probeEvery = probeEvery; self.probeWindow = probeWindow
    }
}

extension TrainingOptions {
    /// Largest accepted counts: beyond them a value is a typo, and would allocate or loop for hours.
    public static let limits = (evalBatchSize: 1 << 20, bpttWindow: 100_000, chunks: 64, subset: 100_000_000)

    /// Throws on a value outside its range, naming the field (`{eval_batch_size}`, …) and the range.
    /// Run on options from the command line and on options read back from a checkpoint.
    public func validate() throws {
        let l = Self.limits
        guard (1...l.evalBatchSize).contains(evalBatchSize) else {
            throw InputError(options: "{eval_batch_size} must be in 1…\(l.evalBatchSize) (got \(evalBatchSize))")
        }
        if let w = bpttWindow, !(1...l.bpttWindow).contains(w) {
            throw InputError(options: "{bptt_window} must be in 1…\(l.bpttWindow) (got \(w))")
        }
        guard (1...l.chunks).contains(chunks) else {
            throw InputError(options: "{chunks} must be in 1…\(l.chunks) (got \(chunks))")
        }
        if let n = trainSubset, !(1...l.subset).contains(n) {
            throw InputError(options: "{train_subset} must be in 1…\(l.subset) (got \(n))")
        }
        if let n = testSubset, !(1...l.subset).contains(n) {
            throw InputError(options: "{test_subset} must be in 1…\(l.subset) (got \(n))")
        }
        guard probeEvery >= 0 else { throw InputError(options: "{probe_every} must be ≥ 0 (got \(probeEvery))") }
        guard probeWindow >= 1 && probeWindow <= max(probeEvery, 1) else {
            throw InputError(
                options:
                    "{probe_window} must be in 1…\(max(probeEvery, 1)) ({probe_every}; windows may not overlap) (got "
                    + "\(probeWindow))"
            )
        }
        if let d = device { try d.validate() }
    }
}
