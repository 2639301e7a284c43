import Foundation

/// What reads and writes cost in energy and time, from the preset's voltages, pulse widths and
/// converter figures of merit (all 0 by default: not modelled). Counted in `ArrayCosts`.
///
/// - **Cells read**: a sample's read drives line j with V_read·x̃_j, x̃ = x/dac_bound clipped to ±1
///   (amplitude coding), for one read pulse t_read; every device on the line dissipates V²·G·t_read:
///   E = V_read²·t_read·Σ_j x̃_j²·Σ_(devices on line j) G, both devices of a pair (or the reference)
///   included, G = G_min + u·(G_max − G_min) in siemens.
/// - **Converters**: one DAC conversion per driven line and one ADC conversion per sensed line of every
///   sample, each costing its figure of merit × 2^bits (Walden); none without a converter.
/// - **Writes**: each pulse dissipates V²·G·t in its device (G before the pulse), with the amplitude
///   and width of its direction (`write_voltage_up/down`, `pulse_width_up/down`); a FeFET's
///   capacitive write is not this form, which then is an assumption.
/// - **Latency**: reads take one read pulse per sample; pulse counts are programmed row by row (a row's
///   up pulses, then its down pulses, all columns at once: the row's largest count sets its time);
///   stochastic trains take 2·BL pulse slots per sample (up, then down), all devices at once.
struct EnergyModel {
    let gMin: Double, gRange: Double
    /// V_read²·t_read (V²·s), t_read (s), DAC range, and the energy of one DAC and one ADC conversion (J).
    let readV2T: Double, readPulse: Double, dacBound: Double, dacEnergy: Double, adcEnergy: Double
    let dacBits: Int, adcBits: Int

    init(device d: DeviceParameters, io: IOParameters) {
        gMin = d.gMin; gRange = d.gMax - d.gMin
        readV2T = io.readVoltage * io.readVoltage * io.readPulseWidth; readPulse = io.readPulseWidth
        dacBound = io.dacBound; dacBits = io.dacBits; adcBits = io.adcBits
        dacEnergy = io.dacBits > 0 ? io.dacFom * Double(1 << io.dacBits) : 0
        adcEnergy = io.adcBits > 0 ? io.adcFom * Double(1 << io.adcBits) : 0
    }

    /// Whether reads have any cost to count.
    var countsReads: Bool { readPulse > 0 || dacBits > 0 || adcBits > 0 }

    /// Per driven line, the summed conductance (S) of the devices on it, both devices of every pair:
    /// for forward reads (the columns of W) and for transposed reads (its rows), in one pass.
    func lineConductances(_ c: ConductanceStorage) -> (columns: [Double], rows: [Double]) {
        var colU = [Float](repeating: 0, count: c.cols), rowU = [Double](repeating: 0, count: c.rows)
        let cols = c.cols
        c.uPos.withUnsafeBufferPointer { p in
            c.uNeg.withUnsafeBufferPointer { n in
                colU.withUnsafeMutableBufferPointer { col in
                    guard let bp = p.baseAddress, let bn = n.baseAddress, let bc = col.baseAddress else { return }
                    let rp = UnsafeRawPointer(bp), rn = UnsafeRawPointer(bn), rc = UnsafeMutableRawPointer(bc)
                    for i in 0..<c.rows {
                        let base = i &* cols
                        // Eight columns at a time; the row's sum in eight partial sums (a single running
                        // sum is a dependency chain of one add per device).
                        var row8 = SIMD8<Float>(repeating: 0), j = 0
                        while j &+ 8 <= cols {
                            let at = (base &+ j) &* 4
                            let s =
                                rp.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                                + rn.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                            let cj = rc.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<Float>.self)
                            rc.storeBytes(of: cj + s, toByteOffset: j &* 4, as: SIMD8<Float>.self)
                            row8 += s; j &+= 8
                        }
                        var row = row8.sum()
                        while j < cols { let s = p[base &+ j] + n[base &+ j]; col[j] += s; row += s; j &+= 1 }
                        rowU[i] = Double(row)
                    }
                }
            }
        }
        return (
            colU.map { 2 * gMin * Double(c.rows) + gRange * Double($0) },
            rowU.map { 2 * gMin * Double(c.cols) + gRange * $0 }
        )
    }

    /// Adds the cost of one read of `input` (B × driven lines) sensing `sensed` lines.
    /// `cellEnergy` is the cells' part, ``cellEnergy(_:lines:)`` of this input (the read path keeps it
    /// with the input's clean product, so a constant input is summed once per weight change).
    func addRead(_ input: Matrix<Float>, sensed: Int, cellEnergy: Double?, to c: inout ArrayCosts) {
        let b = Double(input.rows), driven = Double(input.cols)
        if dacBits > 0 { c.dacConversions += b * driven; c.converterEnergy += b * driven * dacEnergy }
        if adcBits > 0 { c.adcConversions += b * Double(sensed); c.converterEnergy += b * Double(sensed) * adcEnergy }
        c.readLatency += b * readPulse
        if let e = cellEnergy { c.readEnergy += e }
    }

    /// Energy (J) the cells dissipate in one read of `input` with lines of conductance `g`:
    /// V²·t·Σ_j g_j·Σ_b x̃_bj².
    func cellEnergy(_ input: Matrix<Float>, lines g: [Double]) -> Double {
        // Σ_b x̃² per line, then weighted by the line's conductance.
        let inv = 1 / Float(dacBound), lines = input.cols
        var x2 = [Float](repeating: 0, count: lines)
        input.storage.withUnsafeBufferPointer { p in
            x2.withUnsafeMutableBufferPointer { s in
                precondition(p.count == input.rows * lines, "a read's input does not match its shape")
                guard let base = p.baseAddress, let sum = s.baseAddress else { return }
                // Row by row through pointers with wrapping index arithmetic, so the line loop vectorizes
                // (checked `r * lines + j` kept it scalar: 3 % of crossbar training).
                for r in 0..<input.rows {
                    let row = base + r &* lines
                    for j in 0..<lines { let x = min(max(row[j] * inv, -1), 1); sum[j] += x * x }
                }
            }
        }
        var e = 0.0
        for j in 0..<lines { e += Double(x2[j]) * g[j] }
        return readV2T * e
    }
}

/// The write side of the energy model, kept by the `PulseProgrammer`.
struct WriteEnergy {
    let gMin: Double, gRange: Double
    /// V²·t of an up and of a down pulse (V²·s), and the two pulse widths (s).
    let upV2T: Double, downV2T: Double, upWidth: Double, downWidth: Double

    init(_ d: DeviceParameters) {
        gMin = d.gMin; gRange = d.gMax - d.gMin
        upV2T = d.writeVoltageUp * d.writeVoltageUp * d.pulseWidthUp;
        downV2T = d.writeVoltageDown * d.writeVoltageDown * d.pulseWidthDown
        upWidth = d.pulseWidthUp; downWidth = d.pulseWidthDown
    }

    /// Whether writes have any cost to count.
    var counts: Bool { upWidth > 0 || downWidth > 0 }

    /// Energy (J) of `up` and `down` pulses on a device at u.
    @inline(__always) func energy(u: Float, up: Float, down: Float) -> Double {
        (gMin + gRange * Double(u)) * (Double(up) * upV2T + Double(down) * downV2T)
    }

    /// Time (s) to program pulse counts row by row: each row's up phase lasts its largest up count ×
    /// the up width, then its down phase likewise. `up` raises W (G⁺ up, G⁻ down on a pair).
    func rowByRow(up: [Float], down: [Float], rows: Int, cols: Int, pushPull: Bool) -> Double {
        var t = 0.0
        up.withUnsafeBufferPointer { pu in
            down.withUnsafeBufferPointer { pd in
                precondition(pu.count == rows * cols && pd.count == rows * cols, "pulse counts do not match the array")
                for i in 0..<rows {
                    let base = i &* cols
                    // The row's largest counts in four running maxima each (a maximum does not depend
                    // on the order it is taken in; a single running maximum is one long dependency chain).
                    var u0: Float = 0, u1: Float = 0, u2: Float = 0, u3: Float = 0
                    var d0: Float = 0, d1: Float = 0, d2: Float = 0, d3: Float = 0
                    var j = base
                    let end = base &+ cols
                    while j &+ 4 <= end {
                        u0 = max(u0, pu[j]); u1 = max(u1, pu[j &+ 1]); u2 = max(u2, pu[j &+ 2]);
                        u3 = max(u3, pu[j &+ 3])
                        d0 = max(d0, pd[j]); d1 = max(d1, pd[j &+ 1]); d2 = max(d2, pd[j &+ 2]);
                        d3 = max(d3, pd[j &+ 3])
                        j &+= 4
                    }
                    while j < end { u0 = max(u0, pu[j]); d0 = max(d0, pd[j]); j &+= 1 }
                    var mu = max(max(u0, u1), max(u2, u3)), md = max(max(d0, d1), max(d2, d3))
                    // On a pair, a device is pulsed up by `up` (G⁺) or by `down` (G⁻), and down by the other.
                    if pushPull { let m = max(mu, md); mu = m; md = m }
                    t += Double(mu) * upWidth + Double(md) * downWidth
                }
            }
        }
        return t
    }
}
