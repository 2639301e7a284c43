import Foundation

/// The pulse responses of one array's devices, indexed by device: what programming asks of the law.
protocol ResponseTable {
    func potentiated(_ u: Float, device i: Int, pulses n: Float) -> Float
    func depressed(_ u: Float, device i: Int, pulses n: Float) -> Float
    /// Device i's hard bounds in u.
    func bounds(device i: Int) -> (lower: Float, upper: Float)
    /// Device i's unit of additive c2c noise (Δu of one pulse).
    func unitStep(device i: Int, up: Bool) -> Float
    /// Device i's extra c2c σ per pulse at u (before × dw_min_std).
    func noiseFloor(device i: Int, at u: Float) -> Float
}

/// Draws the responses of `count` devices from `law` (the first draw is the nominal device, shared
/// by all when the law has no spread). The two devices of a pair use two tables drawn one after the
/// other from the same `…/d2d` stream; without spread they share one.
func responseTables<L: DeviceLaw>(_ law: L, count n: Int, maxPulses: Int, rng: inout RandomStream) -> (
    positive: any ResponseTable, negative: any ResponseTable
) {
    let nominal = law.sampleDevice(using: &rng)
    guard law.hasDeviceSpread else {
        if let g = nominal as? GeometricResponse {
            let t = GeometricTable(nominal: g, maxPulses: maxPulses)
            return (t, t)
        }
        let t = LawTable(nominal: nominal, perDevice: [])
        return (t, t)
    }
    // Built-in laws: drawn straight into the tabulating table's element type (no array cast, which
    // would copy 2 × 32 bytes per device).
    if L.Device.self == GeometricResponse.self {
        let pos = (0..<n).map { _ in law.sampleDevice(using: &rng) as! GeometricResponse }
        let neg = (0..<n).map { _ in law.sampleDevice(using: &rng) as! GeometricResponse }
        return (GeometricTable(perDevice: pos), GeometricTable(perDevice: neg))
    }
    let pos = (0..<n).map { _ in law.sampleDevice(using: &rng) }
    let neg = (0..<n).map { _ in law.sampleDevice(using: &rng) }
    return (LawTable(nominal: nominal, perDevice: pos), LawTable(nominal: nominal, perDevice: neg))
}

/// Any law's responses: one per device, or one shared nominal device.
struct LawTable<D: PulseResponse>: ResponseTable {
    let nominal: D
    let perDevice: [D]
    @inline(__always) subscript(i: Int) -> D { perDevice.isEmpty ? nominal : perDevice[i] }
    @inline(__always) func potentiated(_ u: Float, device i: Int, pulses n: Float) -> Float {
        self[i].potentiated(u, pulses: n)
    }
    @inline(__always) func depressed(_ u: Float, device i: Int, pulses n: Float) -> Float {
        self[i].depressed(u, pulses: n)
    }
    @inline(__always) func bounds(device i: Int) -> (lower: Float, upper: Float) {
        let d = self[i]; return (d.lowerBound, d.upperBound)
    }
    @inline(__always) func unitStep(device i: Int, up: Bool) -> Float { self[i].unitStep(up: up) }
    @inline(__always) func noiseFloor(device i: Int, at u: Float) -> Float { self[i].noiseFloor(at: u) }
}

/// The built-in laws' responses: without device-to-device spread, one nominal response shared by all
/// (saving 48 bytes per device and the cache misses of reading them during updates) with its factors
/// ρⁿ tabulated for every integer pulse count up to the cap; with spread, one response per device and
/// ρⁿ computed per update.
struct GeometricTable: ResponseTable {
    let nominal: GeometricResponse
    let perDevice: [GeometricResponse]
    /// ρⁿ of the nominal response for n = 0 … `powersUp.count − 1`.
    private var powersUp: [Float] = [], powersDown: [Float] = []

    init(nominal: GeometricResponse, maxPulses: Int) {
        self.nominal = nominal; perDevice = []
        let n = min(max(maxPulses, 0), 4096)
        powersUp = (0...n).map { Float(Double.pow(nominal.rhoUp, Double($0))) }
        powersDown = (0...n).map { Float(Double.pow(nominal.rhoDown, Double($0))) }
    }

    init(perDevice: [GeometricResponse]) {
        nominal =
            perDevice.first
            ?? GeometricResponse(stepUp: 0, stepDown: 0, fixedUp: 1, fixedDown: 1, rhoUp: 1, rhoDown: 1)
        self.perDevice = perDevice
    }

    @inline(__always) subscript(i: Int) -> GeometricResponse { perDevice.isEmpty ? nominal : perDevice[i] }

    @inline(__always)
    static func power(_ rho: Double, _ n: Float, table: [Float]) -> Float {
        if let k = GeometricResponse.wholeCount(n), k < table.count { return table[k] }
        return GeometricResponse.decay(rho, n)
    }

    @inline(__always)
    func potentiated(_ u: Float, device i: Int, pulses n: Float) -> Float {
        let d = self[i]
        return d.potentiated(u, pulses: n, decay: Self.power(d.rhoUp, n, table: powersUp))
    }

    @inline(__always)
    func depressed(_ u: Float, device i: Int, pulses n: Float) -> Float {
        let d = self[i]
        return d.depressed(u, pulses: n, decay: Self.power(d.rhoDown, n, table: powersDown))
    }

    @inline(__always) func bounds(device i: Int) -> (lower: Float, upper: Float) {
        let d = self[i]; return (d.lowerBound, d.upperBound)
    }
    @inline(__always) func unitStep(device i: Int, up: Bool) -> Float { self[i].unitStep(up: up) }
    @inline(__always) func noiseFloor(device i: Int, at u: Float) -> Float { 0 }
}
