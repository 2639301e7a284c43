import Foundation
import Testing

/// A real client of the checkpoint format: `scripts/checkpoint-client.py` reads a trained
/// checkpoint with PyPI's safetensors and NumPy, evaluates the network's free phase itself and must
/// get xbar's test error on the same 1000 test images. Skipped where `scripts/setup` could not
/// install the two packages (no Python, venv or pip).
@Suite struct CheckpointClientTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let python = root.appendingPathComponent(".build/client-venv/bin/python").path
    static var available: Bool {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import numpy, safetensors"]
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    @Test(
        .enabled(
            if: available,
            "no .build/client-venv with numpy and safetensors (scripts/setup makes it where Python, venv and pip exist)"
        ))
    func pythonClientGetsXbarsTestError() throws {
        let tmp = NSTemporaryDirectory() + "xbar-client-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let r = try CLITests.run([
            "train", "--model", "p-1h", "--epochs", "1", "--train-subset", "1000", "--test-subset", "1000",
            "--quiet", "--out", tmp
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let log = try String(contentsOfFile: tmp + "/log.jsonl", encoding: .utf8)
        let last = try #require(log.split(separator: "\n").last)
        let xbar = try #require(
            (try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])?["test_error"] as? Double)
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: Self.python)
        p.arguments = [
            Self.root.appendingPathComponent("scripts/checkpoint-client.py").path, tmp + "/checkpoint.safetensors",
            "--test-subset", "1000"
        ]
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(String(decoding: e, as: UTF8.self))")
        let doc = try #require(try JSONSerialization.jsonObject(with: o) as? [String: Any])
        let python = try #require(doc["test_error"] as? Double)
        #expect((doc["predictions"] as? [Int])?.count == 1000)
        #expect(abs(python - xbar) < 1e-9, "Python client \(python) % vs xbar \(xbar) %")
        #expect(xbar < 60, "the network did not learn: \(xbar) %")
    }
}
