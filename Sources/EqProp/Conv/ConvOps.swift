/// Shapes and data movement of the P-conv network: im2col/col2im (so every convolution is one BLAS
/// product), 2-D max pooling with argmax indices, max-unpooling and its adjoint (gather).
///
/// Layout: every feature map is stored per sample as H×W×C, channels fastest (NHWC), one sample
/// per matrix row. A convolution weight is c_out × (k·k·c_in) with columns ordered (ky, kx, c_in).
/// (PyTorch's OIHW weight w[o, i, ky, kx] is our W[o, (ky·k + kx)·c_in + i].)
public struct ConvGeometry: Sendable, Equatable {
    /// Input side (square images), kernel side, pooling window (= stride).
    public let image: Int, kernel: Int, pool: Int
    /// Channels of the input and of every conv layer: c_0 (input), c_1 … c_m.
    public let channels: [Int]
    /// Number of classes: units of the output layer.
    public let classes: Int

    /// A geometry from its fields; `problem` says whether it is valid.
    public init(image: Int, kernel: Int, pool: Int, channels: [Int], classes: Int) {
        self.image = image; self.kernel = kernel; self.pool = pool; self.channels = channels; self.classes = classes
    }

    /// Number of conv layers m.
    public var convLayers: Int { channels.count - 1 }
    /// Side of the map entering conv layer l (l = 1…m): H_0 = image, H_l = (H_{l−1} − k + 1)/pool.
    public func side(_ l: Int) -> Int {
        var h = image
        for _ in 0..<l { h = (h - kernel + 1) / pool }
        return h
    }
    /// Side of conv layer l's output before pooling.
    public func convSide(_ l: Int) -> Int { side(l - 1) - kernel + 1 }
    /// Units of state layer l (1…m conv maps, m + 1 the output).
    public func units(_ l: Int) -> Int { l == convLayers + 1 ? classes : side(l) * side(l) * channels[l] }
    /// State sizes input → output, as `NetworkSpec.layers` lists them.
    public var layers: [Int] { [image * image * channels[0]] + (1...convLayers + 1).map(units) }
    /// Weight shapes (rows, cols): conv layers c_l × k²c_{l−1}, then the classifier.
    public var weightShapes: [(rows: Int, cols: Int)] {
        (1...convLayers).map { (channels[$0], kernel * kernel * channels[$0 - 1]) } + [(classes, units(convLayers))]
    }
    /// Bias lengths: one per channel of each conv layer, one per class.
    public var biasSizes: [Int] { Array(channels.dropFirst()) + [classes] }

    /// nil if valid, else the reason.
    public var problem: String? {
        if channels.count < 2 { return "needs at least one conv layer (channels: input and ≥ 1 layer)" }
        if channels.contains(where: { $0 < 1 }) || kernel < 1 || pool < 1 || image < 1 || classes < 1 {
            return "sizes must be ≥ 1"
        }
        for l in 1...convLayers {
            let o = convSide(l)
            if o < 1 { return "conv layer \(l): kernel \(kernel) does not fit a \(side(l - 1))×\(side(l - 1)) map" }
            if o % pool != 0 {
                return "conv layer \(l): its \(o)×\(o) output is not divisible by the pooling window \(pool)"
            }
        }
        return nil
    }
}

enum ConvOps {
    /// cols[(b, oy, ox), (ky, kx, c)] = input[b, oy + ky, ox + kx, c] for an H×H×C input, O = H − k + 1.
    static func im2col<T: EPScalar>(_ x: Matrix<T>, side h: Int, channels c: Int, kernel k: Int) -> Matrix<T> {
        let o = h - k + 1, batch = x.rows
        var cols = Matrix<T>(rows: batch * o * o, cols: k * k * c)
        let rowLen = k * k * c
        x.storage.withUnsafeBufferPointer { px in
            cols.storage.withUnsafeMutableBufferPointer { pc in
                for b in 0..<batch {
                    let xb = b * h * h * c
                    for oy in 0..<o {
                        for ox in 0..<o {
                            var dst = ((b * o + oy) * o + ox) * rowLen
                            for ky in 0..<k {
                                // One contiguous run of k·c values per kernel row.
                                let src = xb + ((oy + ky) * h + ox) * c
                                for i in 0..<(k * c) { pc[dst + i] = px[src + i] }
                                dst += k * c
                            }
                        }
                    }
                }
            }
        }
        return cols
    }

    /// The adjoint of `im2col`: scatter-adds columns back into a B × (H·H·C) map.
    static func col2im<T: EPScalar>(_ cols: Matrix<T>, batch: Int, side h: Int, channels c: Int, kernel k: Int)
        -> Matrix<T>
    {
        let o = h - k + 1
        var x = Matrix<T>(rows: batch, cols: h * h * c)
        let rowLen = k * k * c
        cols.storage.withUnsafeBufferPointer { pc in
            x.storage.withUnsafeMutableBufferPointer { px in
                for b in 0..<batch {
                    let xb = b * h * h * c
                    for oy in 0..<o {
                        for ox in 0..<o {
                            var src = ((b * o + oy) * o + ox) * rowLen
                            for ky in 0..<k {
                                let dst = xb + ((oy + ky) * h + ox) * c
                                for i in 0..<(k * c) { px[dst + i] += pc[src + i] }
                                src += k * c
                            }
                        }
                    }
                }
            }
        }
        return x
    }

    /// Max pooling (window = stride = p) of a B × (O·O·C) map: pooled B × (H·H·C), H = O/p, and
    /// for every pooled unit the flat in-sample index of its maximum (the first one on ties).
    static func maxPool<T: EPScalar>(_ z: Matrix<T>, side o: Int, channels c: Int, pool p: Int) -> (Matrix<T>, [Int32])
    {
        let h = o / p, batch = z.rows
        var out = Matrix<T>(rows: batch, cols: h * h * c)
        var idx = [Int32](repeating: 0, count: batch * h * h * c)
        z.storage.withUnsafeBufferPointer { pz in
            out.storage.withUnsafeMutableBufferPointer { po in
                idx.withUnsafeMutableBufferPointer { pi in
                    for b in 0..<batch {
                        let zb = b * o * o * c, ob = b * h * h * c
                        for py in 0..<h {
                            for px in 0..<h {
                                for ch in 0..<c {
                                    var best = zb + ((py * p) * o + px * p) * c + ch
                                    for dy in 0..<p {
                                        for dx in 0..<p {
                                            let j = zb + ((py * p + dy) * o + px * p + dx) * c + ch
                                            if pz[j] > pz[best] { best = j }
                                        }
                                    }
                                    let u = ob + (py * h + px) * c + ch
                                    po[u] = pz[best]
                                    pi[u] = Int32(best - zb)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, idx)
    }

    /// Max-unpooling: a B × (O·O·C) map of zeros with v placed at the pooling indices.
    static func unpool<T: EPScalar>(_ v: Matrix<T>, indices idx: [Int32], unpooledCount n: Int) -> Matrix<T> {
        var out = Matrix<T>(rows: v.rows, cols: n)
        let per = v.cols
        v.storage.withUnsafeBufferPointer { pv in
            out.storage.withUnsafeMutableBufferPointer { po in
                for b in 0..<v.rows { for u in 0..<per { po[b * n + Int(idx[b * per + u])] = pv[b * per + u] } }
            }
        }
        return out
    }

    /// The adjoint of `unpool`: g at the pooling indices, B × (H·H·C).
    static func gather<T: EPScalar>(_ g: Matrix<T>, indices idx: [Int32], pooledCount per: Int) -> Matrix<T> {
        var out = Matrix<T>(rows: g.rows, cols: per)
        let n = g.cols
        g.storage.withUnsafeBufferPointer { pg in
            out.storage.withUnsafeMutableBufferPointer { po in
                for b in 0..<g.rows { for u in 0..<per { po[b * per + u] = pg[b * n + Int(idx[b * per + u])] } }
            }
        }
        return out
    }

    /// Per-channel sums over batch and positions of a B × (P·C) map (channels fastest).
    static func channelSums<T: EPScalar>(_ m: Matrix<T>, channels c: Int) -> [T] {
        var s = [T](repeating: 0, count: c)
        m.storage.withUnsafeBufferPointer { p in for i in 0..<p.count { s[i % c] += p[i] } }
        return s
    }
}

extension Matrix {
    /// The same storage read as another shape with the same count (NHWC maps ↔ (B·positions) × C).
    func reshaped(rows r: Int, cols c: Int) -> Matrix {
        precondition(r * c == count, "reshape \(rows)×\(cols) → \(r)×\(c)")
        return Matrix(rows: r, cols: c, storage: storage)
    }
}
