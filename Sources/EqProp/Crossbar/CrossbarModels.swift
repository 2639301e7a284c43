/// Models on crossbars: one array per weight matrix, programmed from a network's parameters.
extension CrossbarArray {
    /// One crossbar array per weight matrix of `parameters` (layer index = matrix index), with the
    /// device law of `device.model`, or `law` when given (a law of your own).
    public static func arrays(
        for parameters: Parameters<Float>, device: DeviceSpec, law: (any DeviceLaw)? = nil,
        seed: UInt64
    ) -> [CrossbarArray] {
        parameters.weights.enumerated().map { layer, w in
            if let law { return CrossbarArray(spec: device, law: law, weights: w, seed: seed, layer: layer) }
            return CrossbarArray(spec: device, weights: w, seed: seed, layer: layer)
        }
    }
}

extension Network where W == CrossbarArray {
    /// A fully connected network on crossbars of `device` (law of `device.model`, or `law`), its
    /// conductances programmed from `parameters`.
    public init(
        spec: NetworkSpec, parameters: Parameters<Float>, device: DeviceSpec, law: (any DeviceLaw)? = nil, seed: UInt64
    ) {
        self.init(
            spec: spec, arrays: CrossbarArray.arrays(for: parameters, device: device, law: law, seed: seed),
            biases: parameters.biases)
    }
}

extension ConvNet where W == CrossbarArray {
    /// P-conv on crossbars of `device`: every conv kernel and the classifier on its own array.
    public init(
        spec: NetworkSpec, parameters: Parameters<Float>, device: DeviceSpec, law: (any DeviceLaw)? = nil, seed: UInt64
    ) {
        self.init(
            spec: spec, arrays: CrossbarArray.arrays(for: parameters, device: device, law: law, seed: seed),
            biases: parameters.biases)
    }
}
