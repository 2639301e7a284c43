// swift-tools-version: 6.1
// libFuzzer targets for the parsers of files a user brings: IDX images, safetensors checkpoints and
// preset YAML. Built and run by scripts/fuzz (with -sanitize=fuzzer,address); not part of the build.
import Foundation
import PackageDescription

// A path dependency's package identity is its folder's name: read it from the path.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("..").standardizedFileURL
let eqProp = Target.Dependency.product(name: "EqProp", package: root.lastPathComponent)
let deps: [Target.Dependency] = [eqProp, "FuzzDriver"]

let package = Package(
    name: "Fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        // Hands each target's input function to libFuzzer.
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzIDX", dependencies: deps),
        .executableTarget(name: "FuzzSafetensors", dependencies: deps),
        .executableTarget(name: "FuzzPresetYAML", dependencies: deps)
    ]
)
