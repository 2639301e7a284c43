import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

@Suite struct DataTests {
    static let fashion = DataSet.debianFashionMNIST

    @Test func realFashionMNISTLoads() throws {
        let d = try DataSet.load("fashion-mnist")
        #expect(d.train.count == 60000 && d.test.count == 10000)
        #expect(d.train.rows == 28 && d.train.cols == 28 && d.test.rows == 28 && d.test.cols == 28)
        #expect(Set(d.train.labels) == Set(0...9) && Set(d.test.labels) == Set(0...9))
        #expect(d.train.pixels.count == 60000 * 784)
        #expect(d.train.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Balanced classes, as published: 6000 per class in train.
        #expect((0...9).allSatisfy { k in d.train.labels.filter { $0 == k }.count == 6000 })
    }

    /// Writes an IDX file: header `0 0 type ndims`, big-endian dims, then `payload` bytes.
    static func idx(_ dims: [Int], type: UInt8 = 8, magic: [UInt8] = [0, 0], payload: Int? = nil) -> [UInt8] {
        var b: [UInt8] = magic + [type, UInt8(dims.count)]
        for d in dims { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return b + [UInt8](repeating: 3, count: payload ?? dims.reduce(1, *))
    }

    static func write(_ bytes: [UInt8], _ name: String, in dir: String) -> String {
        let p = (dir as NSString).appendingPathComponent(name)
        #expect(FileManager.default.createFile(atPath: p, contents: Data(bytes)), "could not write \(p)")
        return p
    }

    static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "xbar-idx-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func wellFormedRawFilesLoad() throws {
        let dir = Self.tempDir()
        let im = Self.write(Self.idx([5, 4, 3]), "i", in: dir), lb = Self.write(Self.idx([5], payload: 5), "l", in: dir)
        let set = try LabeledImages.load(images: im, labels: lb)
        #expect(set.count == 5 && set.rows == 4 && set.cols == 3 && set.labels == [3, 3, 3, 3, 3])
        #expect(abs(set.pixels[0] - 3 / 255) < 1e-7)
    }

    @Test func malformedFilesGiveClearErrors() throws {
        let dir = Self.tempDir()
        let goodLabels = Self.write(Self.idx([5], payload: 5), "labels", in: dir)
        let cases: [(String, [UInt8], String)] = [
            ("bad magic", Self.idx([5, 4, 3], magic: [8, 3]), "bad IDX magic"),
            ("truncated", Array(Self.idx([5, 4, 3]).dropLast(7)), "truncated IDX data"),
            ("count mismatch", Self.idx([6, 4, 3]), "has 6 images but"),
            ("wrong dimensions", Self.idx([5, 12]), "must have 3 dimensions")
        ]
        // A labels file with an images header: named before its (huge) payload size is checked.
        let goodImages = Self.write(Self.idx([5, 4, 3]), "images", in: dir)
        let imageHeader = Self.write(Self.idx([300, 200, 100], payload: 5), "labels-as-images", in: dir)
        #expect(
            throws: InputError(
                "labels-as-images: labels must have 1 dimension, but the IDX header says 3 (magic 0x00000803)")
        ) {
            try LabeledImages.load(images: goodImages, labels: imageHeader)
        }
        for (name, bytes, expected) in cases {
            let im = Self.write(bytes, name.replacingOccurrences(of: " ", with: "-"), in: dir)
            do {
                _ = try LabeledImages.load(images: im, labels: goodLabels)
                Issue.record("\(name): no error")
            } catch let e as InputError {
                #expect(e.message.contains(expected), "\(name): \(e.message)")
                #expect(!e.message.contains("\n"), "one line")
            }
        }
    }

    @Test func missingDataSetIsAnError() {
        #expect(throws: InputError.self) { try DataSet.load("/nonexistent/folder") }
        let e = try? DataSet.load("/nonexistent/folder")
        #expect(e == nil)
    }

    @Test func shufflingIsSeeded() {
        let d = DataSet.synthetic(features: 4, train: 100, test: 10)
        let b = Batcher(d.train, batchSize: 10)
        #expect(b.order(epoch: 0, seed: 5) == b.order(epoch: 0, seed: 5))
        #expect(b.order(epoch: 0, seed: 5) != b.order(epoch: 1, seed: 5))
        #expect(b.order(epoch: 0, seed: 5) != b.order(epoch: 0, seed: 6))
        #expect(b.order(epoch: 3, seed: 5).sorted() == Array(0..<100))
    }
}
