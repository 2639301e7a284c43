// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "EqPropCrossbar",
    products: [
        .library(name: "EqProp", targets: ["EqProp"]),
        .library(name: "EqPropRuns", targets: ["EqPropRuns"]),
        .executable(name: "xbar", targets: ["xbar"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        // `swift package generate-documentation --target EqProp` (DocC); not used by the build.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0")
    ],
    targets: [
        // C libraries from Debian (scripts/setup installs them).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The core: numerics, data, models, EP, BPTT, the trainer, the crossbar, metrics, tensor I/O.
        .target(
            name: "EqProp",
            dependencies: [
                "CBLAS", "CFFTW", "CZlib",
                .product(name: "RealModule", package: "swift-numerics"),
                .product(name: "Yams", package: "Yams")
            ],
            // The presets (Models/, linked here) ship with the library: `DeviceSpec.load("epiram")`
            // works from any folder and in packages that depend on this one.
            resources: [.copy("Presets")]
        ),
        // Run orchestration: training runs on disk (checkpoints, logs), sweeps, benchmarks, Table 1,
        // plots. It holds models only through `AnyTrainer` and the library's concrete entry points,
        // whose training loops are compiled (specialized) inside the core.
        .target(name: "EqPropRuns", dependencies: ["EqProp", .product(name: "Yams", package: "Yams")]),
        // The command-line tool: parses and prints.
        .executableTarget(
            name: "xbar",
            dependencies: [
                "EqProp", "EqPropRuns",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),
        .testTarget(name: "EqPropTests", dependencies: ["EqProp", "EqPropRuns"])
    ]
)
