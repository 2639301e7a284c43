import Foundation
import Testing
import Yams
@testable import EqProp

/// The sectioned device config (`device:`, `forward:`, `update:`), its flat-name aliases and the
/// flat files and checkpoints written before the sections existed.
@Suite struct DeviceSpecTests {
    /// Every preset written flat (every field at the top level) decodes to the same spec as its
    /// sectioned file, and the flat JSON of a checkpoint's options decodes to it too.
    @Test func flatAndSectionedFormsAgree() throws {
        for name in ["epiram", "ecram", "reram-sb", "pcm", "ideal"] {
            let spec = try DeviceSpec.load(name)
            var flat: [String: Any] = ["name": spec.name, "source": spec.source]
            for section in ["device", "forward", "update"] {
                let text = try YAMLEncoder().encode(spec)
                let dict = try Yams.load(yaml: text) as! [String: Any]
                for (k, v) in dict[section] as! [String: Any] { flat[k] = v }
            }
            let fromFlat = try DeviceSpec.decode(yaml: try Yams.dump(object: flat), source: "flat")
            #expect(fromFlat.device == spec.device && fromFlat.forward == spec.forward && fromFlat.update == spec.update, "\(name)")
            let json = try JSONSerialization.data(withJSONObject: flat)
            let fromJSON = try JSONDecoder().decode(DeviceSpec.self, from: json)
            #expect(fromJSON.device == spec.device && fromJSON.forward == spec.forward && fromJSON.update == spec.update, "\(name) (JSON)")
            // And the sectioned JSON round-trips.
            let roundTrip = try JSONDecoder().decode(DeviceSpec.self, from: JSONEncoder().encode(spec))
            #expect(roundTrip == spec)
        }
    }

    /// A field is the same with or without its section, on the spec and through `setting`.
    @Test func fieldsWithAndWithoutTheirSection() throws {
        let d = try DeviceSpec.load("epiram")
        let a = try d.setting("white_noise", to: "0.01"), b = try d.setting("forward.white_noise", to: "0.01")
        #expect(a == b && a.forward.whiteNoise == 0.01 && a.whiteNoise == 0.01)
        var c = d; c.levels = 32
        let viaSetting = try d.setting("device.levels", to: "32")
        #expect(c.device.levels == 32 && viaSetting == c)
        #expect(DeviceSpec.section(of: "bl") == "update" && DeviceSpec.section(of: "t_step") == "forward" && DeviceSpec.section(of: "c2c") == "device")
    }

    @Test(arguments: [
        ("name: x\ndevice:\n  model: linear-step\n  levels: 4\nlevels: 8\n", "field 'levels' is given twice"),
        ("name: x\nforward:\n  levels: 4\ndevice:\n  model: ideal\n", "'levels' belongs in 'device:'"),
        ("name: x\ndevice:\n  model: linear-step\n  c2c: 0.1\n  c2c: 0.2\n", "field 'device.c2c' is given more than once"),
        ("name: x\ndevice: 3\n", "field 'device' must be a mapping"),
        ("name: x\nforward:\n  adc_bits: 8\n", "missing field 'model'"),
        ("name: x\ndevice:\n  model: linear-step\nupdate:\n  bl: 0\n", "field 'bl' must be in 1…64"),
    ])
    func badSectionsNameTheField(yaml: String, message: String) {
        do {
            _ = try DeviceSpec.decode(yaml: yaml, source: "test.yaml")
            Issue.record("accepted: \(yaml)")
        } catch let e as InputError {
            #expect(e.message.contains(message), "\(e.message)")
        } catch { Issue.record("\(error)") }
    }

    @Test func settingAFieldInTheWrongSectionSaysWhereItBelongs() throws {
        let d = try DeviceSpec.load("epiram")
        #expect(throws: InputError.self) { try d.setting("forward.levels", to: "4") }
        do { _ = try d.setting("forward.levels", to: "4") } catch let e as InputError { #expect(e.message.contains("belongs in 'device'")) }
    }
}

/// The library names options, never command-line flags; `xbar` renders them as flags.
@Suite struct InputErrorTests {
    @Test func optionsRenderAsNamesInTheLibraryAndAsFlagsInTheCLI() {
        let e = InputError(options: "{fidelity_batches} must be ≥ 1 (got 0); see {seeds}")
        #expect(e.message == "'fidelity_batches' must be ≥ 1 (got 0); see 'seeds'")
        #expect(e.rendered { "--" + $0.replacingOccurrences(of: "_", with: "-") } == "--fidelity-batches must be ≥ 1 (got 0); see --seeds")
        // A plain message is left alone, braces included.
        #expect(InputError("a {literal} brace").rendered { _ in "X" } == "a {literal} brace")
    }

    /// No error the library throws spells a flag (`--name`): they go through `InputError(options:)`.
    @Test func librarySourcesNameNoFlags() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/EqProp").standardizedFileURL
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 30)
        var offenders: [String] = []
        for f in files {
            let text = try String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("InputError(\"") && line.range(of: #"--[a-z]"#, options: .regularExpression) != nil {
                offenders.append("\(f):\(n + 1)")
            }
        }
        #expect(offenders.isEmpty, "library errors naming a flag: \(offenders)")
    }
}
