// swift-tools-version: 6.1
// An example of using EqPropCrossbar as a library: a device law of your own, EP training on it, and
// the fidelity of its updates against BPTT. Depends on the repository two folders up, by path.
import Foundation
import PackageDescription

// A path dependency's package identity is its folder's name, which depends on where the repository
// was cloned; read it from the path.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
    .standardizedFileURL

let package = Package(
    name: "CustomDevice",
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "CustomDevice", dependencies: [.product(name: "EqProp", package: root.lastPathComponent)])
    ]
)
