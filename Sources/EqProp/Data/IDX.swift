import CZlib
import Foundation

/// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun's format: big-endian header
/// `0x00 0x00 <type> <ndims>`, one UInt32 per dimension, then the data), gzip-compressed or raw.
public enum IDX {
    /// A decoded IDX array: the dimensions from the header and the unsigned-byte elements.
    public struct Array: Sendable {
        /// Size of each dimension, outermost first (count × rows × cols for images).
        public var dimensions: [Int]
        /// The elements in row-major order, one unsigned byte each.
        public var bytes: [UInt8]
    }

    /// Largest IDX file read, packed or unpacked (bytes): 4× the 60,000 MNIST training images.
    public static let maxFileBytes = 200_000_000

    /// Reads a whole file, transparently gunzipping (zlib's gzread passes raw files through).
    public static func readFile(_ path: String) throws -> [UInt8] {
        try InputFile.check(path, what: "data file", maxBytes: maxFileBytes)
        guard let f = gzopen(path, "rb") else { throw InputError("data file '\(path)' cannot be opened") }
        defer { gzclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(f, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw InputError("data file '\(path)' is corrupt (gzip error)") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
            if out.count > maxFileBytes {
                throw InputError(
                    "data file '\(path)' unpacks to more than \(maxFileBytes) bytes; not an IDX file of images")
            }
        }
        return out
    }

    /// Parses an unsigned-byte IDX array and checks its size against the header.
    public static func parse(_ data: [UInt8], source: String, dimensions wanted: Int? = nil) throws -> Array {
        guard data.count >= 4 else {
            throw InputError("\(source): truncated IDX file (\(data.count) bytes, header needs 4)")
        }
        guard data[0] == 0, data[1] == 0 else {
            throw InputError("\(source): bad IDX magic number (first bytes \(data[0]) \(data[1]), expected 0 0)")
        }
        guard data[2] == 0x08 else {
            throw InputError(
                "\(source): IDX element type 0x\(String(data[2], radix: 16)) not supported (expected 0x08, unsigned "
                    + "byte)"
            )
        }
        let nd = Int(data[3])
        guard (1...4).contains(nd) else {
            throw InputError("\(source): IDX header says \(nd) dimensions (expected 1 to 4)")
        }
        if let w = wanted, nd != w {
            let what =
                w == 1 ? "labels must have 1 dimension" : "images must have \(w) dimensions (count × rows × cols)"
            throw InputError("\(source): \(what), but the IDX header says \(nd) (magic 0x0000080\(nd))")
        }
        let headerLen = 4 + 4 * nd
        guard data.count >= headerLen else { throw InputError("\(source): truncated IDX header") }
        var dims: [Int] = []
        for d in 0..<nd {
            let o = 4 + 4 * d
            dims.append(Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3]))
        }
        // Dimensions are 32-bit each: their product can overflow.
        var expected = 1
        for d in dims {
            let (p, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxFileBytes else {
                throw InputError("\(source): IDX dimensions \(dims) give more than \(maxFileBytes) bytes")
            }
            expected = p
        }
        let have = data.count - headerLen
        guard have >= expected else {
            throw InputError(
                "\(source): truncated IDX data (\(have) bytes after the header, dimensions \(dims) need \(expected))")
        }
        guard have == expected else {
            throw InputError("\(source): \(have - expected) unexpected bytes after the IDX data (dimensions \(dims))")
        }
        return Array(dimensions: dims, bytes: Swift.Array(data[headerLen...]))
    }

    /// Reads and parses the IDX file at `path`; when `dimensions` is given, the header must declare
    /// exactly that many. Errors name the file.
    public static func load(_ path: String, dimensions: Int? = nil) throws -> Array {
        try parse(readFile(path), source: (path as NSString).lastPathComponent, dimensions: dimensions)
    }
}
