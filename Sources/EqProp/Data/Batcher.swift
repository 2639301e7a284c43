import Foundation

/// Batches in a seeded order: the permutation of epoch e comes from stream `"shuffle/e"`, so a resumed
/// run sees exactly the batches an uninterrupted one would.
public struct Batcher {
    /// The set the batches are drawn from.
    public let data: LabeledImages
    /// Examples per batch B; the last batch of an epoch may be smaller.
    public let batchSize: Int
    /// A batcher over `data` with `batchSize` examples per batch.
    public init(_ data: LabeledImages, batchSize: Int) { self.data = data; self.batchSize = batchSize }

    /// Batches per epoch, ⌈count / batchSize⌉.
    public var batchCount: Int { (data.count + batchSize - 1) / batchSize }

    /// The example indices of epoch `epoch` in visiting order: a permutation from stream
    /// `"shuffle/<epoch>"` of `seed`, or 0..<count unchanged when `shuffle` is false.
    public func order(epoch: Int, seed: UInt64, shuffle: Bool = true) -> [Int] {
        guard shuffle else { return Array(0..<data.count) }
        var rng = RandomStream(seed: seed, stream: "shuffle/\(epoch)")
        return rng.permutation(data.count)
    }

    /// Inputs (B × features) and one-hot targets (B × classes) for the examples `idx`.
    public func batch<T: EPScalar>(_ idx: ArraySlice<Int>, as: T.Type = T.self) -> (
        x: Matrix<T>, y: Matrix<T>, labels: [Int]
    ) {
        let f = data.features
        var x = Matrix<T>(rows: idx.count, cols: f)
        var y = Matrix<T>(rows: idx.count, cols: data.classes)
        var labels: [Int] = []
        data.pixels.withUnsafeBufferPointer { px in
            x.storage.withUnsafeMutableBufferPointer { pxo in
                for (r, i) in idx.enumerated() {
                    for j in 0..<f { pxo[r * f + j] = T(px[i * f + j]) }
                }
            }
        }
        for (r, i) in idx.enumerated() { y[r, data.labels[i]] = 1; labels.append(data.labels[i]) }
        return (x, y, labels)
    }
}
