import Foundation

/// A labelled image set: pixels in [0, 1] (÷255, no normalisation, as the seed's `ToTensor`).
public struct LabeledImages: Sendable {
    /// Number of examples.
    public var count: Int
    /// Image height in pixels.
    public var rows: Int
    /// Image width in pixels.
    public var cols: Int
    /// Number of classes: the width of the one-hot targets.
    public var classes: Int
    /// count × (rows·cols), row-major.
    public var pixels: [Float]
    /// Class label of each example, one per example.
    public var labels: [Int]
    /// Pixels per example, rows·cols (the width of the input layer).
    public var features: Int { rows * cols }

    /// A set from values already in memory, stored as given (no consistency checks).
    public init(count: Int, rows: Int, cols: Int, classes: Int, pixels: [Float], labels: [Int]) {
        self.count = count; self.rows = rows; self.cols = cols; self.classes = classes
        self.pixels = pixels; self.labels = labels
    }

    /// Loads an images file and a labels file and checks that they agree.
    public static func load(images: String, labels: String) throws -> LabeledImages {
        let im = try IDX.load(images, dimensions: 3)
        let lb = try IDX.load(labels, dimensions: 1)
        let iname = (images as NSString).lastPathComponent, lname = (labels as NSString).lastPathComponent
        guard im.dimensions[0] == lb.dimensions[0] else {
            throw InputError("\(iname) has \(im.dimensions[0]) images but \(lname) has \(lb.dimensions[0]) labels")
        }
        if let bad = lb.bytes.first(where: { $0 > 9 }) {
            throw InputError("\(lname): label \(bad) out of range 0…9")
        }
        let scale: Float = 1 / 255
        return LabeledImages(
            count: im.dimensions[0], rows: im.dimensions[1], cols: im.dimensions[2], classes: 10,
            pixels: im.bytes.map { Float($0) * scale }, labels: lb.bytes.map { Int($0) })
    }

    /// The examples at `indices`, as a new set.
    public func subset(_ indices: [Int]) -> LabeledImages {
        let f = features
        var px = [Float](); px.reserveCapacity(indices.count * f)
        for i in indices { px.append(contentsOf: pixels[(i * f)..<((i + 1) * f)]) }
        return LabeledImages(
            count: indices.count, rows: rows, cols: cols, classes: classes,
            pixels: px, labels: indices.map { labels[$0] })
    }
}

/// Train and test splits of one data set.
public struct DataSet: Sendable {
    /// The name or path the set was loaded from (`synthetic` for the toy problem).
    public var name: String
    /// The training split.
    public var train: LabeledImages
    /// The test split.
    public var test: LabeledImages

    /// A data set from images already in memory (pixels in [0, 1], row-major, one image after another).
    public init(name: String, train: LabeledImages, test: LabeledImages) {
        self.name = name; self.train = train; self.test = test
    }

    /// Where Debian's `dataset-fashion-mnist` installs the files.
    public static let debianFashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// Resolves `fashion-mnist`, `mnist` or a directory holding the four standard IDX files.
    ///
    /// - `fashion-mnist`: `$XBAR_FASHION_MNIST_DIR`, else Debian's package folder.
    /// - `mnist`: `$XBAR_MNIST_DIR`, else `./data/mnist`. MNIST cannot be downloaded here; bring the files.
    /// - `synthetic`: a seeded 784-feature, 10-class toy problem (2000 train, 500 test) for quick checks.
    /// - a path: a folder with `train-images-idx3-ubyte[.gz]` etc. (also accepts `train-images.idx3-ubyte`).
    public static func load(_ nameOrPath: String) throws -> DataSet {
        let env = ProcessInfo.processInfo.environment
        let dir: String
        if nameOrPath == "synthetic" { return synthetic(features: 784, train: 2000, test: 500) }
        switch nameOrPath {
        case "fashion-mnist": dir = env["XBAR_FASHION_MNIST_DIR"] ?? debianFashionMNIST
        case "mnist": dir = env["XBAR_MNIST_DIR"] ?? "data/mnist"
        default: dir = nameOrPath
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            let hint =
                nameOrPath == "mnist"
                ? " (put the four MNIST IDX files there or set XBAR_MNIST_DIR)"
                : nameOrPath == "fashion-mnist" ? " (run scripts/setup to install Debian's dataset-fashion-mnist)" : ""
            throw InputError("dataset '\(nameOrPath)': folder '\(dir)' not found\(hint)")
        }
        func find(_ stem: String) throws -> String {
            let alt = stem.replacingOccurrences(of: "-idx", with: ".idx")
            for cand in [stem, stem + ".gz", alt, alt + ".gz"] {
                let p = (dir as NSString).appendingPathComponent(cand)
                if FileManager.default.fileExists(atPath: p) { return p }
            }
            throw InputError("dataset '\(nameOrPath)': '\(stem)[.gz]' not found in '\(dir)'")
        }
        let train = try LabeledImages.load(
            images: find("train-images-idx3-ubyte"), labels: find("train-labels-idx1-ubyte"))
        let test = try LabeledImages.load(
            images: find("t10k-images-idx3-ubyte"), labels: find("t10k-labels-idx1-ubyte"))
        guard train.rows == test.rows && train.cols == test.cols else {
            throw InputError(
                "dataset '\(nameOrPath)': train images are \(train.rows)×\(train.cols) but test images are "
                    + "\(test.rows)×\(test.cols)"
            )
        }
        return DataSet(name: nameOrPath, train: train, test: test)
    }

    /// A small synthetic 10-class problem for tests: class prototypes in [0,1]^d plus noise, clipped.
    public static func synthetic(
        features: Int = 64, train: Int = 2000, test: Int = 500, noise: Double = 0.25, seed: UInt64 = 1
    ) -> DataSet {
        var rng = RandomStream(seed: seed, stream: "synthetic")
        let protos = (0..<10).map { _ in (0..<features).map { _ in rng.uniform() < 0.5 ? 0.0 : 1.0 } }
        func make(_ n: Int) -> LabeledImages {
            var px = [Float](); px.reserveCapacity(n * features)
            var lb = [Int]()
            for _ in 0..<n {
                let k = rng.below(10)
                lb.append(k)
                for j in 0..<features { px.append(Float(min(max(protos[k][j] + noise * rng.normal(), 0), 1))) }
            }
            return LabeledImages(count: n, rows: 1, cols: features, classes: 10, pixels: px, labels: lb)
        }
        return DataSet(name: "synthetic", train: make(train), test: make(test))
    }
}
