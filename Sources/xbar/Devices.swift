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
                case .exponential: detail = String(format: "P_max %d, NL %.3g/%.3g, c2c %.3g", s.pulses, s.nlLtp, s.nlLtd, s.c2c)
                default: detail = String(format: "dw_min %.3g, dw_min_std %.3g, γ %.3g/%.3g", s.dwMin, s.dwMinStd, s.gammaUp, s.gammaDown)
                }
                print(name.padding(toLength: 11, withPad: " ", startingAt: 0) + s.model.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0) + detail)
                if !s.source.isEmpty { print(String(repeating: " ", count: 11) + "source: " + s.source) }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Conductance vs pulse number (potentiation, then depression) with c2c spread; parameters as JSON.",
            discussion: "Writes DIR/device.svg and DIR/device.json.")
        @Argument(help: "Device preset name or YAML path.") var name: String
        @Option(help: "Output folder.") var out: String = "runs/device"
        @Option(help: "Simulated devices for the spread.") var devices: Int = 50
        @Option(help: "Seed.") var seed: UInt64 = 1

        func run() throws {
            guard devices >= 2 && devices <= 10_000 else { throw InputError("--devices must be in 2…10000 (got \(devices))") }
            let spec = try DeviceOverrides.resolve(name)
            guard spec.model != .ideal else { throw InputError("device '\(spec.name)' is ideal: it has no pulse response to show") }
            try OutputFolder.prepare(out)
            let c = try Characterization.curve(spec, devices: devices, seed: seed)
            struct Doc: Encodable { let device: DeviceSpec; let curve: Characterization.Curve }
            try writeJSON(Doc(device: spec, curve: c), to: (out as NSString).appendingPathComponent("device.json"))
            try AtomicFile.write(Characterization.curveSVG(c, spec: spec), to: (out as NSString).appendingPathComponent("device.svg"))
            print(String(format: "%@: %d pulses per sweep, step ratio first/last LTP %.3g, LTD %.3g; wrote %@/device.svg and %@/device.json",
                         spec.name, c.pulsesPerSweep, c.stepRatioLTP, c.stepRatioLTD, out, out))
        }
    }
}

struct Noise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Synthesize a device's read-noise traces with FFTW and compare their periodogram with the target PSD.",
        discussion: "Writes DIR/noise.svg and DIR/noise.json (fitted slope, variance vs target).")
    @Option(help: "Device preset name or YAML path.") var device: String
    @Option(help: "Output folder.") var out: String = "runs/noise"
    @Option(help: "Traces averaged in the periodogram.") var traces: Int = 256
    @Option(help: "Samples per trace (even).") var length: Int = 4096
    @Option(help: "Seed.") var seed: UInt64 = 1

    func run() throws {
        guard traces >= 1 && traces <= 100_000 else { throw InputError("--traces must be in 1…100000 (got \(traces))") }
        guard length >= 64 && length <= 1 << 24 && length % 2 == 0 else { throw InputError("--length must be even and in 64…\(1 << 24) (got \(length))") }
        let s = try DeviceOverrides.resolve(device)
        try OutputFolder.prepare(out)
        var reports: [Characterization.NoiseReport] = []
        if s.flickerK > 0 {
            reports.append(Characterization.noise(.flicker(k: s.flickerK, gamma: s.flickerGamma), name: "1/f^\(s.flickerGamma)", length: length, dt: s.tStep, traces: traces, seed: seed))
        }
        if s.rtnAmplitude > 0 {
            reports.append(Characterization.noise(.lorentzian(amplitude: s.rtnAmplitude, tau0: s.rtnTau0, tau1: s.rtnTau1), name: "telegraph", length: length, dt: s.tStep, traces: traces, seed: seed))
        }
        guard !reports.isEmpty else { throw InputError("device '\(s.name)' has no time-correlated read noise (flicker_k and rtn_amplitude are 0)") }
        try writeJSON(reports, to: (out as NSString).appendingPathComponent("noise.json"))
        try AtomicFile.write(Characterization.noiseSVG(reports, device: s.name), to: (out as NSString).appendingPathComponent("noise.svg"))
        for r in reports {
            if let sl = r.fittedSlope {
                print(String(format: "%@: fitted slope %.3f (target %.3f), variance %.4g (target %.4g)", r.component, sl, r.targetSlope ?? 0, r.measuredVariance, r.targetVariance))
            } else {
                print(String(format: "%@: variance %.4g (target %.4g)", r.component, r.measuredVariance, r.targetVariance))
            }
        }
        print("wrote \(out)/noise.svg and \(out)/noise.json")
    }
}
