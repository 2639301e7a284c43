import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// Small networks and data for the numerical tests.
enum Fixtures {
    static func spec(
        _ kind: ModelKind, layers: [Int] = [6, 5, 4, 3], activation: Activation,
        dt: Double = 1, clamp: Bool = false, exact: Bool = false, toy: Bool = false,
        T: Int = 12, K: Int = 4, beta: Double = 0.1
    ) -> NetworkSpec {
        let n = layers.count - 1 + (toy ? 1 : 0)
        return NetworkSpec(
            name: "test", kind: kind, layers: layers, activation: activation, dt: dt, clamp: clamp,
            exactPrimitive: exact, inputToOutput: toy, T: T, K: K, beta: beta,
            learningRates: [Double](repeating: 0.05, count: n), batchSize: 3)
    }

    /// A random batch (x in [0,1], one-hot y) from a fixed stream.
    static func batch(_ spec: NetworkSpec, batch: Int = 3, seed: UInt64 = 7) -> (Matrix<Double>, Matrix<Double>) {
        var rng = RandomStream(seed: seed, stream: "test-batch")
        var x = Matrix<Double>(rows: batch, cols: spec.layers[0])
        for i in 0..<x.count { x.storage[i] = rng.uniform() }
        var y = Matrix<Double>(rows: batch, cols: spec.layers.last!)
        for r in 0..<batch { y[r, rng.below(y.cols)] = 1 }
        return (x, y)
    }

    static func network(_ spec: NetworkSpec, seed: UInt64 = 3, scale: Double = 1) -> IdealNetwork<Double> {
        var p = Parameters<Double>.initial(spec: spec, seed: seed)
        if scale != 1 {
            for i in p.weights.indices { for j in 0..<p.weights[i].count { p.weights[i].storage[j] *= scale } }
        }
        return IdealNetwork(spec: spec, parameters: p)
    }
}

/// ‖a − b‖ / ‖b‖ (or ‖a‖ when b = 0).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0, dena = 0.0
    for i in a.indices { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; dena += a[i] * a[i] }
    let d = max(den, dena)
    return d == 0 ? 0 : (num / d).squareRoot()
}

/// The crossbar's parts as the tests inspect them (device states, responses, counts).
extension CrossbarArray {
    var cells: ConductanceStorage { store.conductances! }
    var uPos: [Float] {
        get { cells.uPos }
        set { cells.uPos = newValue }
    }
    var uNeg: [Float] {
        get { cells.uNeg }
        set { cells.uNeg = newValue }
    }
    var cachedWeights: Matrix<Float>? {
        get { cells.cachedWeights }
        set { cells.cachedWeights = newValue; readPath.clearCaches() }
    }
    var count: Int { outputs * inputs }
    /// The responses of the G⁺ devices of a built-in law.
    var devPos: GeometricTable { (store as! ProgrammedConductances).responses.positive as! GeometricTable }
}

extension Tag {
    /// Tests that train on real data for more than a few seconds (measured serially in release:
    /// P-conv learning 440 s, conv fidelity 39 s, conv crossbars 22 s, neuron noise 15 s, P-1h 9 s).
    @Tag static var slow: Self
}

extension Trait where Self == ConditionTrait {
    /// Skips a `slow` test when `XBAR_FAST_TESTS` is set (`scripts/test --fast`).
    static var skippedWhenFast: Self {
        .enabled(
            if: ProcessInfo.processInfo.environment["XBAR_FAST_TESTS"] == nil, "slow: skipped by scripts/test --fast")
    }
}
