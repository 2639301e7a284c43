import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Device presets: list them, or show one's conductance curve and parameters.",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the device presets in Models/devices.")
        func run() throws {
            for name in PresetLocator.available(kind: "devices") {
                let s = try DeviceSpec.load(name)
                let detail: String
                switch s.model {
                case .ideal: detail = "exact weights"
                case .exponential:
                    detail = String(format: "P_max %d, NL %.3g/%.3g, c2c %.3g", s.pulses, s.nlLtp, s.nlLtd, s.c2c)
                case let m where m.isAihwkit:
                    detail = String(
                        format: "w ∈ [%.4g, %.4g], dw_min %.3g, dw_min_std %.3g", s.weightMin, s.weightMax, s.dwMin,
                        s.dwMinStd)
                default:
                    detail = String(
                        format: "dw_min %.3g, dw_min_std %.3g, γ %.3g/%.3g", s.dwMin, s.dwMinStd, s.gammaUp, s.gammaDown
                    )
                }
                print(
                    name.padding(toLength: 13, withPad: " ", startingAt: 0)
                        + s.model.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0) + detail)
                if !s.source.isEmpty { print(String(repeating: " ", count: 13) + "source: " + s.source) }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "A device's response to P up then P down pulses (aihwkit's protocol), with its device-to-device and "
                + "cycle-to-cycle spread.",
            discussion: """
                Writes DIR/device.svg and DIR/device.json: the preset, and per pulse 0…2P the nominal curve and \
                the mean and std over the devices in normalized conductance, and weight_mean, weight_std, weight_p05, \
                weight_p95 in the \
                preset's weight units (w = weight_min + (weight_max − weight_min)·u, aihwkit's convention).
                """)
        @Argument(help: "Device preset name or YAML path.") var name: String
        @Option(help: "Output folder.") var out: String = "runs/device"
        @Option(help: "Simulated devices for the spread (2…100000).") var devices: Int = 50
        @Option(help: "Pulses per direction (default: 1/dw_min, the pulses that span the range).") var pulses: Int?
        @Option(help: "Where each device starts: lower (its own lower bound) or zero (weight 0).") var start: String =
            "lower"
        @Option(help: "Seed.") var seed: UInt64 = 1

        func checkOptions() throws {
            guard devices >= 2 && devices <= 100_000 else {
                throw InputError("--devices must be in 2…100000 (got \(devices))")
            }
            if let p = pulses, !(1...Characterization.maxPulsesPerSweep).contains(p) {
                throw InputError("--pulses must be in 1…\(Characterization.maxPulsesPerSweep) (got \(p))")
            }
            if let p = pulses, Double(devices) * Double(2 * p + 1) > 2e9 {
                throw InputError(
                    "--devices × (2·--pulses + 1) must be at most 2e9 device pulses (got \(devices) × \(2 * p + 1))")
            }
        }

        func run() throws {
            try checkOptions()
            guard let from = Characterization.Start(rawValue: start) else {
                throw InputError("--start must be lower or zero (got '\(start)')")
            }
            let spec = try DeviceOverrides.resolve(name)
            guard spec.model != .ideal else {
                throw InputError("device '\(spec.name)' is ideal: it has no pulse response to show")
            }
            try OutputFolder.prepare(out)
            let c = try Characterization.curve(spec, pulses: pulses, start: from, devices: devices, seed: seed)
            struct Doc: Encodable { let device: DeviceSpec; let curve: Characterization.Curve }
            try writeJSON(Doc(device: spec, curve: c), to: (out as NSString).appendingPathComponent("device.json"))
            try AtomicFile.write(
                Characterization.curveSVG(c, spec: spec), to: (out as NSString).appendingPathComponent("device.svg"))
            print(
                String(
                    format:
                        "%@: %d pulses per sweep, step ratio first/last LTP %.3g, LTD %.3g; wrote %@/device.svg and "
                        + "%@/device.json",
                    spec.name, c.pulsesPerSweep, c.stepRatioLTP, c.stepRatioLTD, out, out))
        }
    }
}

struct Noise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Synthesize a device's read-noise traces with FFTW and compare their periodogram with the target PSD.",
        discussion: "Writes DIR/noise.svg and DIR/noise.json (fitted slope, variance vs target).")
    @Option(help: "Device preset name or YAML path.") var device: String
    @Option(help: "Output folder.") var out: String = "runs/noise"
    @Option(help: "Traces averaged in the periodogram.") var traces: Int = 256
    @Option(help: "Samples per trace (even).") var length: Int = 4096
    @Option(help: "Seed.") var seed: UInt64 = 1

    func run() throws {
        guard traces >= 1 && traces <= 100_000 else { throw InputError("--traces must be in 1…100000 (got \(traces))") }
        guard length >= 64 && length <= 1 << 24 && length % 2 == 0 else {
            throw InputError("--length must be even and in 64…\(1 << 24) (got \(length))")
        }
        let s = try DeviceOverrides.resolve(device)
        try OutputFolder.prepare(out)
        var reports: [Characterization.NoiseReport] = []
        if s.flickerK > 0 {
            reports.append(
                Characterization.noise(
                    .flicker(k: s.flickerK, gamma: s.flickerGamma), name: "1/f^\(s.flickerGamma)", length: length,
                    dt: s.tStep, traces: traces, seed: seed))
        }
        if s.rtnAmplitude > 0 {
            reports.append(
                Characterization.noise(
                    .lorentzian(amplitude: s.rtnAmplitude, tau0: s.rtnTau0, tau1: s.rtnTau1), name: "telegraph",
                    length: length, dt: s.tStep, traces: traces, seed: seed))
        }
        guard !reports.isEmpty else {
            throw InputError("device '\(s.name)' has no time-correlated read noise (flicker_k and rtn_amplitude are 0)")
        }
        try writeJSON(reports, to: (out as NSString).appendingPathComponent("noise.json"))
        try AtomicFile.write(
            Characterization.noiseSVG(reports, device: s.name),
            to: (out as NSString).appendingPathComponent("noise.svg"))
        for r in reports {
            if let sl = r.fittedSlope {
                print(
                    String(
                        format: "%@: fitted slope %.3f (target %.3f), variance %.4g (target %.4g)", r.component, sl,
                        r.targetSlope ?? 0, r.measuredVariance, r.targetVariance))
            } else {
                print(
                    String(format: "%@: variance %.4g (target %.4g)", r.component, r.measuredVariance, r.targetVariance)
                )
            }
        }
        print("wrote \(out)/noise.svg and \(out)/noise.json")
    }
}
