import ArgumentParser
import EqProp
import EqPropRuns
import Foundation

@main
struct Xbar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xbar",
        abstract: "Equilibrium Propagation on simulated memristive crossbars: train, check EP against BPTT, benchmark.",
        subcommands: [
            Train.self, GDUCheck.self, Fidelity.self, Infer.self, Sweep.self, Table.self, Bench.self, Models.self,
            Devices.self, Noise.self
        ])

    /// One clear error line and a non-zero exit for bad input; help and usage as usual.
    static func main() {
        // OpenBLAS's generic fallback kernels on a CPU it does not know: restart onto native ones.
        BLASKernel.restartWithNativeKernelsIfNeeded()
        BLASThreads.set(1)  // bitwise reproducible products; parallelism comes from elsewhere
        HeapTuning.keepFreedMemory()
        do {
            let args = try DeviceOverrides.extract(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot(args)
            if let (k, _) = DeviceOverrides.pairs.first, !(command is AcceptsDeviceOverrides) {
                throw InputError(
                    "--device.\(k): device fields can be set only on train, fidelity, sweep, bench, infer, noise "
                        + "and devices show"
                )
            }
            try command.run()
        } catch let e as InputError {
            // The library names options `{name}`; here they are flags.
            let text = e.rendered { "--" + $0.replacingOccurrences(of: "_", with: "-") }
            FileHandle.standardError.write(Data("error: \(text)\n".utf8))
            Foundation.exit(2)
        } catch let e as CocoaError {
            FileHandle.standardError.write(Data("error: \(FileErrors.describe(e))\n".utf8))
            Foundation.exit(2)
        } catch let e as StorageError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            Foundation.exit(1)
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)  // the command has already said why
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is CleanExit { exit(withError: error) }
            let msg = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("error: \(msg)\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 2 : code.rawValue)
        }
    }
}

/// `xbar models`: lists the network presets.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the network presets in Models/networks.")
    func run() throws {
        for name in PresetLocator.available(kind: "networks") {
            let s = try NetworkSpec.load(name)
            print(
                "\(name.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                    + "\(s.kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) layers "
                    + "\(s.layers.map(String.init).joined(separator: "-"))  \(s.activation.rawValue)  "
                    + "T=\(s.T) K=\(s.K) β=\(s.beta)"
            )
        }
    }
}

/// Writes a status line to stderr (overwritten in place on a terminal).
enum Status {
    static let isTTY = isatty(STDERR_FILENO) != 0
    static func line(_ s: String, final: Bool = false) {
        if isTTY {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(s)\(final ? "\n" : "")".utf8))
        } else if final {
            FileHandle.standardError.write(Data("\(s)\n".utf8))
        }
    }
    nonisolated(unsafe) static var lastStep: Int? = nil
    /// Progress: on a terminal, the status line rewritten in place; in a log file (a SLURM task's
    /// output), a plain line each time `step` changes (a run finished, a tenth of an epoch done).
    static func progress(_ s: String, step: Int) {
        if isTTY { line(s); return }
        guard step != lastStep else { return }
        lastStep = step
        FileHandle.standardError.write(Data("\(s)\n".utf8))
    }
    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Commands that read a device preset and apply `--device.FIELD` overrides to it.
protocol AcceptsDeviceOverrides {}
extension Train: AcceptsDeviceOverrides {}
extension Fidelity: AcceptsDeviceOverrides {}
extension Infer: AcceptsDeviceOverrides {}
extension SweepRun: AcceptsDeviceOverrides {}
extension Bench: AcceptsDeviceOverrides {}
extension Noise: AcceptsDeviceOverrides {}
extension Devices.Show: AcceptsDeviceOverrides {}

/// The output folder of a command, made (or checked) before the command's work starts, so that an
/// unusable --out fails at once instead of after minutes of computing.
enum OutputFolder {
    static func prepare(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if !isDir.boolValue { throw InputError("--out '\(path)' is a file, not a folder") }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

/// File-system errors as one line: the path and the reason (not Foundation's multi-line dump).
enum FileErrors {
    static func describe(_ e: CocoaError) -> String {
        let path = (e.userInfo[NSFilePathErrorKey] as? String) ?? (e.userInfo[NSURLErrorKey] as? URL)?.path ?? "?"
        let reason: String
        if let u = e.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain,
            let s = strerror(Int32(u.code))
        {
            reason = String(cString: s)
        } else {
            switch e.code {
            case .fileWriteFileExists: reason = "a file is in the way (a folder is needed)"
            case .fileNoSuchFile, .fileReadNoSuchFile: reason = "no such file or folder"
            case .fileWriteNoPermission, .fileReadNoPermission: reason = "permission denied"
            case .fileReadInapplicableStringEncoding, .fileReadCorruptFile: reason = "not a readable text file"
            default:
                // Foundation gives no reason when a file sits where a parent folder should be.
                var dir = (path as NSString).deletingLastPathComponent, isDir: ObjCBool = false
                while !dir.isEmpty && dir != "/" && !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
                    dir = (dir as NSString).deletingLastPathComponent
                }
                reason =
                    FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && !isDir.boolValue
                    ? "'\(dir)' is a file, not a folder" : "cannot be written (Cocoa error \(e.code.rawValue))"
            }
        }
        return "'\(path)': \(reason)"
    }
}

/// `--device.FIELD VALUE` (or `--device.FIELD=VALUE`) flags: any device preset field, set from the
/// command line. They are taken out of the arguments before parsing and applied to the preset.
enum DeviceOverrides {
    nonisolated(unsafe) static var pairs: [(String, String)] = []

    static func extract(_ args: [String]) throws -> [String] {
        var rest: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--device.") {
                let body = String(a.dropFirst("--device.".count))
                let pair: (String, String)
                if let eq = body.firstIndex(of: "=") {
                    pair = (String(body[..<eq]), String(body[body.index(after: eq)...]))
                } else {
                    guard i + 1 < args.count else { throw InputError("\(a) needs a value") }
                    pair = (body, args[i + 1])
                    i += 1
                }
                if pairs.contains(where: { $0.0 == pair.0 }) {
                    throw InputError("--device.\(pair.0) is given more than once")
                }
                pairs.append(pair)
            } else {
                rest.append(a)
            }
            i += 1
        }
        return rest
    }

    /// The preset with every override applied (each validated, naming its field on error).
    static func resolve(_ nameOrPath: String) throws -> DeviceSpec {
        var d = try DeviceSpec.load(nameOrPath)
        for (k, v) in pairs { d = try d.setting(k, to: v) }
        return d
    }

    static func rejectUnused() throws {
        if let (k, _) = pairs.first { throw InputError("--device.\(k) needs --device NAME") }
    }
}
