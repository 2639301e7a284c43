import CBLAS
import Foundation

/// Which kernels OpenBLAS runs, and the fix when they are its generic fallback.
///
/// Debian's OpenBLAS is built for many CPUs and picks its kernels by CPU model when it loads. On a CPU
/// model it does not know — common in virtual machines and on CPUs newer than the library — it falls
/// back to generic SSE kernels ("Prescott"), several times slower than the AVX2 or AVX-512 kernels the
/// CPU could run. The kernels can be chosen only before the library loads, through
/// `OPENBLAS_CORETYPE`, so the fix is to set it and start the process again:
/// ``restartWithNativeKernelsIfNeeded(arguments:)``, which `xbar` calls first thing.
///
/// The choice changes speed, not what is computed by a given kernel: a run restarted onto
/// `SkylakeX` kernels gives the same bits as a run started with `OPENBLAS_CORETYPE=SkylakeX` (tested).
/// Different kernels may round differently, as different CPUs do.
public enum BLASKernel {
    /// The instruction-set extensions that decide which OpenBLAS kernels a CPU can run.
    public struct Features: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let avx2 = Features(rawValue: 1 << 0)
        public static let fma = Features(rawValue: 1 << 1)
        /// AVX-512 F, CD, BW, DQ and VL together: what OpenBLAS's SkylakeX kernels use.
        public static let avx512 = Features(rawValue: 1 << 2)

        /// The features named in a `/proc/cpuinfo` `flags` line.
        public init(cpuinfoFlags flags: some Sequence<Substring>) {
            let f = Set(flags.map(String.init))
            var r: Features = []
            if f.contains("avx2") { r.insert(.avx2) }
            if f.contains("fma") { r.insert(.fma) }
            if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(f.contains) { r.insert(.avx512) }
            self = r
        }

        /// This machine's features (Linux: `/proc/cpuinfo`; elsewhere none are reported).
        public static var current: Features {
            guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
                let colon = line.firstIndex(of: ":")
            else { return [] }
            return Features(cpuinfoFlags: line[line.index(after: colon)...].split(separator: " "))
        }
    }

    /// OpenBLAS core types whose kernels predate AVX2: what it falls back to on a CPU it does not know.
    public static let genericCores: Set<String> = [
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai", "Coppermine", "Northwood",
        "Banias", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Athlon", "Unknown", "unknown"
    ]

    /// The core type to force instead of `current`, or nil when `current` is not a generic fallback or
    /// the CPU cannot run anything better: `SkylakeX` with AVX-512, `Haswell` with AVX2 and FMA.
    public static func recommendedCore(current: String, features: Features) -> String? {
        guard genericCores.contains(current) else { return nil }
        if features.contains(.avx512) { return "SkylakeX" }
        if features.isSuperset(of: [.avx2, .fma]) { return "Haswell" }
        return nil
    }

    /// The environment variable the restart sets, naming the core type OpenBLAS chose first; its
    /// presence also stops a second restart.
    public static let restartMarker = "XBAR_BLAS_RESTARTED_FROM"

    /// What OpenBLAS runs now, and what it should run.
    public struct Status: Sendable, Equatable {
        /// The core type of the kernels in use (`openblas_get_corename`).
        public var core: String
        /// The core type to force, if `core` is a generic fallback on a CPU that can do better.
        public var recommended: String?
        /// The core type OpenBLAS chose before ``restartWithNativeKernelsIfNeeded(arguments:)`` restarted
        /// the process, if it did.
        public var restartedFrom: String?
        /// Whether the user forced a core type with `OPENBLAS_CORETYPE`.
        public var forced: Bool
        /// A one-line warning when the kernels are a fallback the CPU could do better than, else nil.
        public var warning: String? {
            guard let r = recommended else { return nil }
            return "OpenBLAS runs its generic '\(core)' kernels on a CPU that can run '\(r)' kernels, several times "
                + "faster: \(forced ? "set OPENBLAS_CORETYPE=\(r) instead" : "set OPENBLAS_CORETYPE=\(r)")"
        }
    }

    /// The kernels in use on this machine.
    public static var status: Status {
        let env = ProcessInfo.processInfo.environment
        let core = BLASThreads.coreName
        return Status(
            core: core, recommended: recommendedCore(current: core, features: .current),
            restartedFrom: env[restartMarker], forced: env["OPENBLAS_CORETYPE"] != nil && env[restartMarker] == nil)
    }

    /// Starts the process again with `OPENBLAS_CORETYPE` set to the recommended core type when OpenBLAS
    /// runs a generic fallback on a CPU that can do better; returns (doing nothing) otherwise.
    ///
    /// Call it first thing in `main`, before any work: on a restart the process is replaced and nothing
    /// after the call runs in it. It never overrides a core type the user set, and restarts at most once
    /// (``restartMarker``). `arguments` is the command line to run again (`CommandLine.arguments`).
    /// `XBAR_BLAS_ASSUME_CORE=NAME` makes it act as if OpenBLAS had chosen NAME (for tests).
    public static func restartWithNativeKernelsIfNeeded(arguments: [String] = CommandLine.arguments) {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env[restartMarker] == nil else { return }
        let core = env["XBAR_BLAS_ASSUME_CORE"] ?? BLASThreads.coreName
        // Only a generic core needs the CPU's features (read from /proc/cpuinfo): most starts stop here.
        guard genericCores.contains(core), let target = recommendedCore(current: core, features: .current) else {
            return
        }
        setenv("OPENBLAS_CORETYPE", target, 1)
        setenv(restartMarker, core, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // Only reached if the restart failed: go on with the slow kernels, and say so once.
        let reason = String(cString: strerror(errno))
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(restartMarker)
        let message =
            "warning: could not restart with OPENBLAS_CORETYPE=\(target) (\(reason)); OpenBLAS runs its slow "
            + "'\(core)' kernels\n"
        FileHandle.standardError.write(Data(message.utf8))
        for p in argv { free(p) }
    }
}
