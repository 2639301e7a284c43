/// A layered network: states for layers 1…L (layer 0 is the clamped input x), one synaptic array per
/// connection of `spec.connections`, and a bias per state layer.
public struct Network<W: SynapticArray> {
    /// The scalar of the arrays, states and biases.
    public typealias T = W.Scalar
    /// The network's architecture and hyperparameters.
    public let spec: NetworkSpec
    /// One array per connection, in `spec.connections` order (= learning-rate order).
    public var arrays: [W]
    /// `biases[l-1]` belongs to layer l (1…L).
    public var biases: [[T]]
    /// `spec.connections`: the (from, to) layers of each array, layer 0 = input.
    public let connections: [(from: Int, to: Int)]

    /// A network from its arrays and biases, whose shapes must match `spec` (fully connected kinds only).
    public init(spec: NetworkSpec, arrays: [W], biases: [[T]]) {
        self.spec = spec
        self.connections = spec.connections
        precondition(spec.kind != .convolutional, "P-conv models are ConvNet, not Network")
        precondition(arrays.count == connections.count, "one array per connection")
        precondition(biases.count == spec.layers.count - 1, "one bias vector per state layer")
        for (c, a) in zip(connections, arrays) {
            precondition(
                a.outputs == spec.layers[c.to] && a.inputs == spec.layers[c.from],
                "array shape does not match the layers")
        }
        self.arrays = arrays
        self.biases = biases
    }

    /// Number of state layers L (hidden layers + output).
    public var depth: Int { spec.layers.count - 1 }
}

/// Initial parameters: PyTorch's `nn.Linear` default, W and b ~ U(±1/√fan_in), drawn in Double from
/// the `"init"` stream and rounded to the working precision, so Float and Double networks built from
/// one seed start from the same point.
public struct Parameters<T: EPScalar>: Equatable, Sendable {
    /// One weight matrix W (out × in) per connection, in connection order.
    public var weights: [Matrix<T>]
    /// `biases[l-1]` is the bias of layer l.
    public var biases: [[T]]

    /// Parameters from their weights and biases.
    public init(weights: [Matrix<T>], biases: [[T]]) { self.weights = weights; self.biases = biases }

    /// The initial parameters of `spec` drawn from `seed`: W and b ~ U(±1/√fan_in).
    public static func initial(spec: NetworkSpec, seed: UInt64) -> Parameters {
        var rng = RandomStream(seed: seed, stream: "init")
        var ws: [Matrix<T>] = []
        for shape in spec.weightShapes {
            let bound = 1 / Double(shape.cols).squareRoot()
            let vals = (0..<(shape.rows * shape.cols)).map { _ in T(rng.uniform(-bound, bound)) }
            ws.append(Matrix(rows: shape.rows, cols: shape.cols, storage: vals))
        }
        // Layer l's bias has the fan-in of the matrix that feeds it (connection l − 1).
        let fanIns = spec.fanIns
        var bs: [[T]] = []
        for (l, n) in spec.biasSizes.enumerated() {
            let bound = 1 / Double(fanIns[l]).squareRoot()
            bs.append((0..<n).map { _ in T(rng.uniform(-bound, bound)) })
        }
        return Parameters(weights: ws, biases: bs)
    }

    /// The same parameters converted to the scalar type U.
    public func converted<U: EPScalar>(to: U.Type = U.self) -> Parameters<U> {
        Parameters<U>(weights: weights.map { $0.converted() }, biases: biases.map { $0.map { U($0) } })
    }
}

extension Network where W: WritableArray {
    /// A network whose arrays are built directly from weight matrices.
    public init(spec: NetworkSpec, parameters: Parameters<T>) {
        self.init(spec: spec, arrays: parameters.weights.map { W($0) }, biases: parameters.biases)
    }
}

/// Ideal networks: the software reference engine.
public typealias IdealNetwork<T: EPScalar> = Network<DenseArray<T>>
