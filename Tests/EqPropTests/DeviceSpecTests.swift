import Foundation
import Testing
import Yams

@testable import EqProp
@testable import EqPropRuns

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
            #expect(
                fromFlat.device == spec.device && fromFlat.forward == spec.forward && fromFlat.update == spec.update,
                "\(name)")
            let json = try JSONSerialization.data(withJSONObject: flat)
            let fromJSON = try JSONDecoder().decode(DeviceSpec.self, from: json)
            #expect(
                fromJSON.device == spec.device && fromJSON.forward == spec.forward && fromJSON.update == spec.update,
                "\(name) (JSON)")
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
        #expect(
            DeviceSpec.section(of: "bl") == "update" && DeviceSpec.section(of: "t_step") == "forward"
                && DeviceSpec.section(of: "c2c") == "device")
    }

    @Test(arguments: [
        ("name: x\ndevice:\n  model: linear-step\n  levels: 4\nlevels: 8\n", "field 'levels' is given twice"),
        ("name: x\nforward:\n  levels: 4\ndevice:\n  model: ideal\n", "'levels' belongs in 'device:'"),
        (
            "name: x\ndevice:\n  model: linear-step\n  c2c: 0.1\n  c2c: 0.2\n",
            "field 'device.c2c' is given more than once"
        ),
        ("name: x\ndevice: 3\n", "field 'device' must be a mapping"),
        ("name: x\nforward:\n  adc_bits: 8\n", "missing field 'model'"),
        ("name: x\ndevice:\n  model: linear-step\nupdate:\n  bl: 0\n", "field 'bl' must be in 1…64"),
        (
            "name: x\ndevice:\n  model: aihwkit-linear-step\n  weight_min: 0.2\n",
            "field 'weight_min' must be in [-1000, 0]"
        ),
        (
            "name: x\ndevice:\n  model: aihwkit-linear-step\n  weight_max: -0.1\n",
            "field 'weight_max' must be in [0, 1000] and greater than weight_min"
        ),
        (
            "name: x\ndevice:\n  model: aihwkit-linear-step\n  weight_min: 0\n  weight_max: 0\n",
            "field 'weight_max' must be"
        ),
        ("name: x\ndevice:\n  model: aihwkit-soft-bounds\n  dw_min: 1.5\n", "field 'dw_min' must be in (0, 1.2]"),
        (
            "name: x\ndevice:\n  model: aihwkit-linear-step\n  weight_max_dtod: -0.1\n",
            "field 'weight_max_dtod' must be in [0, 10]"
        ),
        (
            "name: x\ndevice:\n  model: aihwkit-linear-step\n  gamma_down_dtod: .nan\n",
            "field 'gamma_down_dtod' must be in [0, 10]"
        ),
        (
            "name: x\ndevice:\n  model: aihwkit-exp-step\n  exp_gamma_up: 1000\n",
            "field 'exp_gamma_up' must be in [-100, 100]"
        ),
        ("name: x\ndevice:\n  model: aihwkit-pow-step\n  pow_gamma: -1\n", "field 'pow_gamma' must be in [0, 100]"),
        (
            "name: x\ndevice:\n  model: aihwkit-piecewise-step\n  piecewise_up: [1, 0.5]\n",
            "field 'piecewise_down' must be as long as piecewise_up (2 values)"
        ),
        (
            "name: x\ndevice:\n  model: aihwkit-piecewise-step\n  piecewise_up: []\n  piecewise_down: []\n",
            "field 'piecewise_up' must be a list of 1…64"
        ),
        (
            "name: x\ndevice:\n  model: aihwkit-piecewise-step\n  piecewise_up: [1, -2]\n  piecewise_down: [1, 1]\n",
            "field 'piecewise_up' must be a list of step factors in [0, 1000]"
        ),
        ("name: x\ndevice:\n  model: aihwkit-linear-step\n  mult_noise: maybe\n", "'mult_noise'"),
        (
            "name: x\ndevice:\n  model: linear-step\n  refresh_lower: 0.8\n",
            "field 'refresh_lower' must be at most refresh_upper (0.75)"
        ),
        ("name: x\ndevice:\n  model: linear-step\n  reset_level: 1.5\n", "field 'reset_level' must be in [0, 1]"),
        (
            "name: x\ndevice:\n  model: linear-step\n  mapping: one-sided\nupdate:\n  scheme: tiki-taka\n",
            "field 'mapping' must be differential or reference with a Tiki-Taka scheme"
        ),
        ("name: x\ndevice:\n  model: linear-step\n  drift_nu: -0.1\n", "field 'drift_nu' must be in [0, 1]"),
        (
            "name: x\ndevice:\n  model: linear-step\n  write_voltage_up: -1\n",
            "field 'write_voltage_up' must be in [0, 100] V"
        ),
        (
            "name: x\ndevice:\n  model: linear-step\n  pulse_width_down: 2\n",
            "field 'pulse_width_down' must be in [0, 1] s"
        ),
        (
            "name: x\ndevice:\n  model: linear-step\nforward:\n  adc_fom: 0.01\n",
            "field 'adc_fom' must be in [0, 1e-06] J"
        ),
        (
            "name: x\ndevice:\n  model: linear-step\nforward:\n  read_voltage: .inf\n",
            "field 'read_voltage' must be in [0, 100] V"
        ),
        ("name: x\ndevice:\n  model: aihwkit-exp-step\n  exp_a_up: 1e9\n", "field 'exp_a_up' must be in [-1e6, 1e6]"),
        ("name: x\ndevice:\n  model: aihwkit-pow-step\n  pow_up_down: 1\n", "field 'pow_up_down' must be in (−1, 1)"),
        ("name: x\ndevice:\n  model: linear-step\nupdate:\n  bl_management: 3\n", "'bl_management'"),
        ("name: x\ndevice:\n  model: linear-step\n  drift_t0: 0\n", "field 'drift_t0' must be in (0, 1e9] s"),
        (
            "name: x\ndevice:\n  model: linear-step\nforward:\n  wire_resistance: -1\n",
            "field 'wire_resistance' must be in [0, 10000] Ω per segment"
        ),
        (
            "name: x\ndevice:\n  model: linear-step\nforward:\n  ir_drop_model: spice\n",
            "field 'ir_drop_model' must be one of first-order, exact (got 'spice')"
        )
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
        do { _ = try d.setting("forward.levels", to: "4") } catch let e as InputError {
            #expect(e.message.contains("belongs in 'device'"))
        }
    }
}

/// The library names options, never command-line flags; `xbar` renders them as flags.
@Suite struct InputErrorTests {
    @Test func optionsRenderAsNamesInTheLibraryAndAsFlagsInTheCLI() {
        let e = InputError(options: "{fidelity_batches} must be ≥ 1 (got 0); see {seeds}")
        #expect(e.message == "'fidelity_batches' must be ≥ 1 (got 0); see 'seeds'")
        #expect(
            e.rendered { "--" + $0.replacingOccurrences(of: "_", with: "-") }
                == "--fidelity-batches must be ≥ 1 (got 0); see --seeds")
        // A plain message is left alone, braces included.
        #expect(InputError("a {literal} brace").rendered { _ in "X" } == "a {literal} brace")
    }

    /// No error the library throws spells a flag (`--name`): they go through `InputError(options:)`.
    @Test func librarySourcesNameNoFlags() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Sources"
        ).standardizedFileURL
        // Both library targets: the core and run orchestration.
        let files = ["EqProp", "EqPropRuns"].flatMap { target in
            FileManager.default.enumerator(atPath: sources.appendingPathComponent(target).path)!.compactMap {
                $0 as? String
            }
            .filter { $0.hasSuffix(".swift") }.map { target + "/" + $0 }
        }
        #expect(files.count > 40)
        var offenders: [String] = []
        for f in files {
            let text = try String(contentsOf: sources.appendingPathComponent(f), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("InputError(\"") && line.range(of: #"--[a-z]"#, options: .regularExpression) != nil {
                offenders.append("\(f):\(n + 1)")
            }
        }
        #expect(offenders.isEmpty, "library errors naming a flag: \(offenders)")
    }
}

/// A `backward:` section gives transposed reads their own periphery and streams.
@Suite struct BackwardPeripheryTests {
    /// Forward reads noiseless and exact; transposed reads with white noise σ = 0.05 of their own: the
    /// forward product equals the exact one, the transposed one scatters around it with σ (sample
    /// standard deviation within 10 % over 2,400 values).
    @Test func transposedReadsUseTheBackwardSection() throws {
        var d = DeviceSpec(); d.name = "b"; d.model = .linearStep
        d.backward = IOParameters(); d.backward!.whiteNoise = 0.05
        try d.validate()
        var g = RandomStream(seed: 4, stream: "w")
        let w = Matrix<Float>(rows: 30, cols: 40, storage: (0..<1200).map { _ in Float(g.uniform(-0.1, 0.1)) })
        let arr = CrossbarArray(spec: d, weights: w, seed: 2, layer: 0)
        #expect(!arr.readsAreExact)
        let x = Matrix<Float>(rows: 4, cols: 40, storage: (0..<160).map { _ in Float(g.uniform()) })
        let yIn = Matrix<Float>(rows: 4, cols: 30, storage: (0..<120).map { _ in Float(g.uniform()) })
        let held = arr.weights
        var exactF = Matrix<Float>(rows: 4, cols: 30), exactT = Matrix<Float>(rows: 4, cols: 40)
        gemm(x, held, transposeB: true, into: &exactF); gemm(yIn, held, into: &exactT)
        let clock = ReadClock()
        var residuals: [Double] = []
        for _ in 0..<15 {
            var y = Matrix<Float>(rows: 4, cols: 30), z = Matrix<Float>(rows: 4, cols: 40)
            arr.multiply(x, into: &y, accumulate: false, clock: clock)
            arr.multiplyTransposed(yIn, into: &z, accumulate: false, clock: clock)
            #expect(zip(y.storage, exactF.storage).allSatisfy { abs($0 - $1) <= 1e-5 })
            residuals += zip(z.storage, exactT.storage).map { Double($0 - $1) }
            clock.step()
        }
        let m = residuals.reduce(0, +) / Double(residuals.count)
        let sd = (residuals.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(residuals.count - 1)).squareRoot()
        #expect(abs(sd / 0.05 - 1) < 0.1, "σ of transposed-read noise \(sd)")
    }

    /// `backward.FIELD` starts from the forward periphery; a file's `backward:` section round-trips;
    /// flat read-path names still mean `forward`.
    @Test func backwardSectionFromFlagsAndFiles() throws {
        let e = try DeviceSpec.load("epiram")
        #expect(e.backward == nil)
        let b = try e.setting("backward.adc_bits", to: "6")
        var expected = e.forward; expected.adcBits = 6
        #expect(b.backward == expected && b.forward == e.forward)
        #expect(try e.setting("adc_bits", to: "6").backward == nil)
        let text = "name: x\ndevice:\n  model: linear-step\nforward:\n  adc_bits: 8\nbackward:\n  adc_bits: 4\n"
        let d = try DeviceSpec.decode(yaml: text, source: "x.yaml")
        #expect(d.forward.adcBits == 8 && d.backward?.adcBits == 4)
        let again = try JSONDecoder().decode(DeviceSpec.self, from: JSONEncoder().encode(d))
        #expect(again == d)
    }
}
