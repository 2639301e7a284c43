import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

/// The workloads that `xbar bench` times against aihwkit are the ones docs/performance.md and
/// scripts/bench-vs-aihwkit.py describe.
@Suite struct BenchmarksTests {
    /// EP-sized pulse-train updates: with aihwkit's lr 0.01 and dw_min 0.002, the largest element of
    /// a sample expects k = lr·max|x|·max|d|/dw_min ≈ 0.3 pulses (bit-line management then uses one
    /// slot); inputs in [0, 1), weights within ±0.05.
    @Test func sideBySideWorkloadIsEPSized() {
        let (w, xs, ds) = Benchmarks.kernelData(outputs: 512, inputs: 784, batch: 20)
        #expect(w.storage.allSatisfy { abs($0) <= 0.05 })
        for (x, d) in zip(xs, ds) {
            #expect(x.storage.allSatisfy { $0 >= 0 && $0 < 1 })
            let k = (0..<20).map { b in
                let xMax = (0..<784).map { abs(x[b, $0]) }.max()!, dMax = (0..<512).map { abs(d[b, $0]) }.max()!
                return Double(0.01 * xMax * dMax / 0.002)
            }.sorted()
            #expect(k[10] > 0.2 && k[10] < 0.45, "median expected pulses of the largest element: \(k[10])")
            #expect(k.last! < 1, "every sample within one slot: \(k.last!)")
        }
    }
}
