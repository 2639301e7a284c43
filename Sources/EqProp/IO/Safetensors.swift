import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then the
/// raw little-endian tensor bytes. Readable from Python with `safetensors.numpy.load_file`.
public enum Safetensors {
    /// One F32 tensor: its shape and its values in row-major order.
    public struct Tensor: Equatable, Sendable {
        /// Size of each dimension; their product must equal `values.count`.
        public var shape: [Int]
        /// The elements in row-major order.
        public var values: [Float]
        /// A tensor from a shape and row-major values (checked against each other by `encode`).
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    /// Serializes `tensors` (in name order, as F32) and string `metadata` into safetensors bytes;
    /// the JSON header is padded with spaces to a multiple of 8 bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            precondition(t.shape.reduce(1, *) == t.values.count, "tensor \(name): shape does not match values")
            let bytes = t.values.count * 4
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            tensors[name]!.values.withUnsafeBufferPointer { p in
                // x86_64 and arm64 are little-endian, as the format requires.
                out.append(
                    UnsafeBufferPointer(
                        start: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: UInt8.self), count: p.count * 4)
                )
            }
        }
        return out
    }

    /// Largest safetensors file read (bytes).
    public static let maxFileBytes = 1 << 31

    /// Decodes a file, validating the header; errors name the file and the problem.
    public static func decode(_ data: Data, source: String) throws -> (
        tensors: [String: Tensor], metadata: [String: String]
    ) {
        func bad(_ why: String) -> InputError { InputError("checkpoint '\(source)': \(why)") }
        guard data.count >= 8 else { throw bad("file too short for a safetensors header") }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n > 0, n < 100_000_000, 8 + Int(n) <= data.count else {
            throw bad("header length \(n) does not fit the file (\(data.count) bytes)")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(n)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        let body = data.subdata(in: (8 + Int(n))..<data.count)
        var tensors: [String: Tensor] = [:]
        var meta: [String: String] = [:]
        var spans: [(Int, Int, String)] = []
        for (name, v) in header {
            if name == "__metadata__" {
                guard let m = v as? [String: String] else {
                    throw bad("'__metadata__' must map names to strings (the format stores every value as a string)")
                }
                meta = m
                continue
            }
            guard let d = v as? [String: Any], let dtype = d["dtype"] as? String,
                let shape = d["shape"] as? [Int], let off = d["data_offsets"] as? [Int], off.count == 2
            else {
                throw bad("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw bad("tensor '\(name)' has dtype \(dtype); only F32 is supported") }
            // Shapes come from the file: negative or overflowing products are refused, not trapped on.
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow, p <= body.count / 4 else {
                    throw bad("tensor '\(name)' has shape \(shape), which does not fit the data (\(body.count) bytes)")
                }
                count = p
            }
            guard off[0] >= 0, off[0] <= off[1], off[1] <= body.count, off[1] - off[0] == count * 4 else {
                throw bad("tensor '\(name)' offsets \(off) do not match shape \(shape) and the data size \(body.count)")
            }
            var vals = [Float](repeating: 0, count: count)
            vals.withUnsafeMutableBytes { dst in
                body.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[off[0]..<off[1]]))
                }
            }
            tensors[name] = Tensor(shape: shape, values: vals)
            spans.append((off[0], off[1], name))
        }
        // Tensors may not share bytes (the format forbids overlapping data_offsets).
        let sorted = spans.sorted { $0.0 < $1.0 }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.0 < a.1 {
            throw bad("tensors '\(a.2)' and '\(b.2)' overlap (data_offsets \([a.0, a.1]) and \([b.0, b.1]))")
        }
        return (tensors, meta)
    }
}
