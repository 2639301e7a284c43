import Foundation
import Testing

@testable import EqProp

/// The energy and latency counters against hand counts on tiny arrays.
@Suite struct EnergyTests {
    /// A noise-free 2 × 3 array of a fine device with every energy field set.
    static func device(_ f: (inout DeviceSpec) -> Void = { _ in }) -> DeviceSpec {
        var d = DeviceSpec(); d.name = "e"; d.model = .linearStep; d.dwMin = 1e-3; d.gMin = 1e-6; d.gMax = 1e-4
        d.programming = .deterministic; d.rounding = .nearest; d.maxPulses = 1000
        d.dacBits = 4; d.adcBits = 6; d.dacBound = 2; d.adcBound = 100
        d.readVoltage = 0.5; d.readPulseWidth = 1e-8; d.dacFom = 1e-15; d.adcFom = 1e-14
        d.writeVoltageUp = 2; d.writeVoltageDown = 3; d.pulseWidthUp = 1e-6; d.pulseWidthDown = 2e-6
        f(&d)
        return d
    }

    static let w = Matrix<Float>(rows: 2, cols: 3, storage: [0.1, -0.2, 0.05, 0.3, 0, -0.1])

    /// Conductance (S) of device (row, col) of each half of the pair.
    static func siemens(_ a: CrossbarArray, _ i: Int, _ j: Int) -> (Double, Double) {
        let (p, n) = a.conductances(row: i, col: j)
        return (1e-6 + Double(p) * (1e-4 - 1e-6), 1e-6 + Double(n) * (1e-4 - 1e-6))
    }

    /// The two halves of a batch read their arrays concurrently: the counters must not depend on which
    /// lane adds first. Two trainings with the same seed give the same costs to the last bit.
    @Test func concurrentReadLanesCountTheSameBitsEveryRun() throws {
        var spec = try NetworkSpec.load("p-1h")
        spec.layers = [784, 64, 10]
        spec.learningRates = [0.08, 0.04]
        let data = try DataSet.load("fashion-mnist")
        let device = try DeviceSpec.load("epiram")
        func costs() throws -> [ArrayCosts] {
            let net = Network(spec: spec, parameters: .initial(spec: spec, seed: 3), device: device, seed: 3)
            var trainer = try Trainer(
                net: net, options: TrainingOptions(seed: 3, trainSubset: 200, testSubset: 40, chunks: 2), data: data)
            _ = trainer.trainEpoch(0)
            return trainer.net.arrays.map(\.costs)
        }
        let first = try costs()
        #expect(first.allSatisfy { $0.readEnergy > 0 && $0.converterEnergy > 0 })
        for _ in 0..<3 { #expect(try costs() == first) }
    }

    @Test func readCostsMatchAHandCount() {
        let a = CrossbarArray(spec: Self.device(), weights: Self.w, seed: 1, layer: 0)
        // Inputs with one beyond the DAC range (clipped to ±1 after dividing by dac_bound 2).
        let x = Matrix<Float>(rows: 2, cols: 3, storage: [1, -0.5, 3, 0, 2, -1])
        var y = Matrix<Float>(rows: 2, cols: 2)
        a.multiply(x, into: &y, accumulate: false, clock: ReadClock())
        let c = a.costs
        // Hand count: 2 samples × 3 driven lines through the DAC, × 2 sensed lines through the ADC.
        #expect(c.reads == 1 && c.dacConversions == 6 && c.adcConversions == 4)
        #expect(abs(c.converterEnergy - (6 * 1e-15 * 16 + 4 * 1e-14 * 64)) < 1e-24)
        #expect(abs(c.readLatency - 2 * 1e-8) < 1e-20)
        var e = 0.0
        for b in 0..<2 {
            for j in 0..<3 {
                let v = 0.5 * min(max(Double(x[b, j]) / 2, -1), 1)
                for i in 0..<2 { let (gp, gn) = Self.siemens(a, i, j); e += v * v * (gp + gn) * 1e-8 }
            }
        }
        #expect(abs(c.readEnergy / e - 1) < 1e-6, "cells \(c.readEnergy) vs \(e)")
        // A transposed read drives the 2 output lines and senses the 3 input lines.
        var back = Matrix<Float>(rows: 1, cols: 3)
        a.multiplyTransposed(
            Matrix(rows: 1, cols: 2, storage: [1, 1]), into: &back, accumulate: false, clock: ReadClock())
        var eT = 0.0
        for i in 0..<2 { for j in 0..<3 { let (gp, gn) = Self.siemens(a, i, j); eT += 0.25 * 0.25 * (gp + gn) * 1e-8 } }
        let d = a.costs - c
        #expect(
            d.dacConversions == 2 && d.adcConversions == 3 && abs(d.readEnergy / eT - 1) < 1e-6,
            "\(d.readEnergy) vs \(eT)")
    }

    /// Deterministic counts: each pulse costs V²·G·t at the device's conductance before it, and rows
    /// are programmed one after another (up phase, then down phase, at the row's largest count).
    @Test func writeCostsMatchAHandCount() {
        let a = CrossbarArray(spec: Self.device(), weights: Self.w, seed: 1, layer: 0)
        let before = (0..<2).map { i in (0..<3).map { j in Self.siemens(a, i, j) } }
        // ΔW_00 = 7 steps up, ΔW_12 = 3 steps down: unit = 2·w_fs·dw_min per pulse pair.
        let unit = 2 * a.fullScale * 1e-3
        a.update(
            post: Matrix(rows: 1, cols: 2, storage: [1, 0]), pre: Matrix(rows: 1, cols: 3, storage: [7 * unit, 0, 0]),
            scale: 1)
        a.update(
            post: Matrix(rows: 1, cols: 2, storage: [0, 1]), pre: Matrix(rows: 1, cols: 3, storage: [0, 0, -3 * unit]),
            scale: 1)
        let c = a.costs
        #expect(c.pulses == 2 * (7 + 3))
        // Device (0,0): G⁺ gets 7 up pulses, G⁻ 7 down; device (1,2): G⁺ 3 down, G⁻ 3 up.
        let eUp = 2.0 * 2 * 1e-6, eDown = 3.0 * 3 * 2e-6
        let want =
            7 * eUp * before[0][0].0 + 7 * eDown * before[0][0].1 + 3 * eDown * before[1][2].0 + 3 * eUp
            * before[1][2].1
        #expect(abs(c.writeEnergy / want - 1) < 1e-6, "write energy \(c.writeEnergy) vs \(want)")
        // First update: row 0 pulses 7 up then 7 down (pair), row 1 nothing; second: row 1, 3 and 3.
        #expect(abs(c.writeLatency - (7 * (1e-6 + 2e-6) + 3 * (1e-6 + 2e-6))) < 1e-15)
    }

    /// A 3 × 21 array: wide enough for the unrolled loops (line conductances and the moved-device scan
    /// eight at a time, rows' largest counts four at a time) and for their tails (21 = 2 × 8 + 5 =
    /// 5 × 4 + 1; 63 devices = 7 × 8 + 7).
    @Test func wideArrayCostsMatchAHandCount() {
        let rows = 3, cols = 21
        let w = Matrix<Float>(
            rows: rows, cols: cols, storage: (0..<rows * cols).map { Float(($0 * 37) % 17 - 8) / 40 })
        let a = CrossbarArray(spec: Self.device(), weights: w, seed: 1, layer: 0)
        // Forward read: line j is driven at V_read·x̃_j and holds the devices of column j.
        let x = Matrix<Float>(rows: 2, cols: cols, storage: (0..<2 * cols).map { Float(($0 * 13) % 11 - 5) / 3 })
        var y = Matrix<Float>(rows: 2, cols: rows)
        a.multiply(x, into: &y, accumulate: false, clock: ReadClock())
        var e = 0.0
        for b in 0..<2 {
            for j in 0..<cols {
                let v = 0.5 * min(max(Double(x[b, j]) / 2, -1), 1)
                for i in 0..<rows { let (gp, gn) = Self.siemens(a, i, j); e += v * v * (gp + gn) * 1e-8 }
            }
        }
        #expect(abs(a.costs.readEnergy / e - 1) < 1e-6, "forward \(a.costs.readEnergy) vs \(e)")
        // Transposed read: line i (a row) is driven and holds the devices of row i.
        let c0 = a.costs
        var back = Matrix<Float>(rows: 1, cols: cols)
        a.multiplyTransposed(
            Matrix(rows: 1, cols: rows, storage: [1, -1, 0.5]), into: &back, accumulate: false, clock: ReadClock())
        let driven: [Double] = [0.5, 0.5, 0.25]  // |x|/dac_bound
        var eT = 0.0
        for i in 0..<rows {
            for j in 0..<cols {
                let (gp, gn) = Self.siemens(a, i, j), v = 0.5 * driven[i]
                eT += v * v * (gp + gn) * 1e-8
            }
        }
        #expect(abs((a.costs - c0).readEnergy / eT - 1) < 1e-6, "transposed \((a.costs - c0).readEnergy) vs \(eT)")
        // Writes in the eight-lane part and in the tail: row 0 gets 7 and 4 pulse pairs up (columns 2
        // and 19), row 2 gets 5 down (column 20); a pair's row takes its largest count in both phases.
        let unit = 2 * a.fullScale * 1e-3
        let c1 = a.costs
        var pre = [Float](repeating: 0, count: cols)
        pre[2] = 7 * unit; pre[19] = 4 * unit
        a.update(
            post: Matrix(rows: 1, cols: rows, storage: [1, 0, 0]), pre: Matrix(rows: 1, cols: cols, storage: pre),
            scale: 1)
        pre = [Float](repeating: 0, count: cols); pre[20] = -5 * unit
        a.update(
            post: Matrix(rows: 1, cols: rows, storage: [0, 0, 1]), pre: Matrix(rows: 1, cols: cols, storage: pre),
            scale: 1)
        let d = a.costs - c1
        #expect(
            d.pulses == 2 * (7 + 4 + 5) && d.devicesPulsed == 2 * 3, "\(d.pulses) pulses, \(d.devicesPulsed) devices")
        #expect(abs(d.writeLatency - (7 + 5) * (1e-6 + 2e-6)) < 1e-15, "latency \(d.writeLatency)")
    }

    /// Stochastic trains: 2·BL slots per pulsing sample, the whole array at once.
    @Test func stochasticTrainsTakeTheirSlots() {
        let a = CrossbarArray(
            spec: Self.device {
                $0.programming = .stochastic; $0.bl = 10
            }, weights: Self.w, seed: 1, layer: 0)
        let post = Matrix<Float>(rows: 3, cols: 2, storage: [0.1, 0.2, 0, 0, 0.3, -0.1])  // the second sample is zero
        let pre = Matrix<Float>(rows: 3, cols: 3, storage: [0.1, 0, 0.2, 0.5, 0.5, 0.5, 0.3, 0.3, 0])
        a.update(post: post, pre: pre, scale: 0.01)
        #expect(abs(a.costs.writeLatency - 2 * 10 * (1e-6 + 2e-6)) < 1e-15)
    }

    /// Unset fields cost nothing; counts written before the energy model decode with zeros.
    @Test func unmodelledCostsAreZeroAndOldCountsDecode() throws {
        var d = Self.device(); d.readVoltage = 0; d.readPulseWidth = 0; d.dacBits = 0; d.adcBits = 0
        d.writeVoltageUp = 0; d.writeVoltageDown = 0; d.pulseWidthUp = 0; d.pulseWidthDown = 0
        let a = CrossbarArray(spec: d, weights: Self.w, seed: 1, layer: 0)
        var y = Matrix<Float>(rows: 1, cols: 2)
        a.multiply(Matrix(rows: 1, cols: 3, storage: [1, 1, 1]), into: &y, accumulate: false, clock: ReadClock())
        a.update(
            post: Matrix(rows: 1, cols: 2, storage: [1, 1]), pre: Matrix(rows: 1, cols: 3, storage: [0.01, 0.01, 0.01]),
            scale: 1)
        let c = a.costs
        #expect(c.reads == 1 && c.pulses > 0 && c.energy == 0 && c.latency == 0 && c.dacConversions == 0)
        let old = #"{"pulses":12,"devices_pulsed":3,"reads":4,"accumulator_ops":0}"#
        let decoded = try JSONDecoder().decode(ArrayCosts.self, from: Data(old.utf8))
        #expect(decoded.pulses == 12 && decoded.reads == 4 && decoded.energy == 0)
    }
}

extension EnergyTests {
    /// On a tiny P network trained one epoch: W01 is only read forward (32 driven, 16 sensed lines per
    /// sample) and W12 forward and transposed at every step (16 → 10 and 10 → 16), whatever chunks the
    /// batch is split into; the epoch's costs are the arrays' sums.
    @Test func aTinyNetworksCountsAddUp() throws {
        let spec = NetworkSpec(
            name: "tiny", kind: .prototypical, layers: [32, 16, 10], activation: .sigm, T: 6, K: 2,
            beta: 0.5, nudging: .symmetric, learningRates: [0.1, 0.05], batchSize: 10, epochs: 1)
        let data = DataSet.synthetic(features: 32, train: 40, test: 10)
        var options = TrainingOptions(seed: 3, dataset: "synthetic")
        options.device = Self.device()
        var t = try AnyTrainer(spec: spec, parameters: .initial(spec: spec, seed: 3), options: options, data: data)
        _ = t.trainEpoch(0)
        let c0 = t.arrays[0].costs, c1 = t.arrays[1].costs
        // Sample reads: 40 samples × (T + 2K) = 10 steps (free, then two nudged phases of symmetric
        // nudging), each one read pulse of 1e-8 s; W12 is read twice per step.
        let s0 = 40.0 * 10
        #expect(
            abs(c0.readLatency - s0 * 1e-8) < 1e-15 && abs(c1.readLatency - 2 * s0 * 1e-8) < 1e-15,
            "\(c0.readLatency), \(c1.readLatency)")
        #expect(c0.dacConversions == s0 * 32 && c0.adcConversions == s0 * 16)
        #expect(c1.dacConversions == s0 * (16 + 10) && c1.adcConversions == s0 * (10 + 16))
        let epoch = try #require(t.lastEpochCosts)
        let sum = c0 + c1
        #expect(epoch.dacConversions == sum.dacConversions && epoch.adcConversions == sum.adcConversions)
        #expect(abs(epoch.energy / sum.energy - 1) < 1e-12 && epoch.writeEnergy > 0 && epoch.readEnergy > 0)
    }
}
