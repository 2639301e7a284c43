import Foundation
import Testing

@testable import EqProp
@testable import EqPropRuns

@Suite struct CrossbarTests {
    static func random(_ r: Int, _ c: Int, seed: UInt64, scale: Double = 1) -> Matrix<Float> {
        var g = RandomStream(seed: seed, stream: "xbar-test")
        return Matrix(rows: r, cols: c, storage: (0..<(r * c)).map { _ in Float(scale * (2 * g.uniform() - 1)) })
    }

    // MARK: ideal device

    @Test func idealDeviceReadsAndWritesExactly() {
        let w = Self.random(7, 5, seed: 1), x = Self.random(3, 5, seed: 2), y = Self.random(3, 7, seed: 3)
        let xb = CrossbarArray(spec: DeviceSpec(), weights: w, seed: 1, layer: 0)
        var dense = DenseArray(w)
        var a = Matrix<Float>(rows: 3, cols: 7), b = a
        xb.multiply(x, into: &a, accumulate: false); dense.multiply(x, into: &b, accumulate: false)
        #expect(a == b)
        var c = Matrix<Float>(rows: 3, cols: 5), d = c
        xb.multiplyTransposed(y, into: &c, accumulate: false); dense.multiplyTransposed(y, into: &d, accumulate: false)
        #expect(c == d)
        xb.update(post: y, pre: x, scale: 0.3); dense.update(post: y, pre: x, scale: 0.3)
        #expect(xb.weights == dense.weights)
        // The realized change equals the requested 0.3·yᵀx to float precision.
        for i in 0..<7 {
            for j in 0..<5 {
                let want = 0.3 * (0..<3).reduce(Float(0)) { $0 + y[$1, i] * x[$1, j] }
                #expect(abs(xb.weights[i, j] - w[i, j] - want) <= 1e-6)
            }
        }
    }

    // MARK: stochastic pulse trains

    /// Mean and variance of one stochastic-train update of a constant-step device against
    /// E[ΔW] = lr·x·d and Var[ΔW] = w_fs²·s²·[4·BL·p(1−p) + 2σ²·BL·p] (two devices of the pair,
    /// coincidences Binomial(BL, p), per-pulse c2c σ), p = p_x·p_d.
    @Test func stochasticPulseUpdateMatchesAnalyticMoments() {
        var spec = DeviceSpec()
        spec.model = .linearStep; spec.dwMin = 1e-4; spec.dwMinStd = 0.3; spec.programming = .stochastic; spec.bl = 31
        spec.wMax = 1
        let arr = CrossbarArray(spec: spec, weights: Matrix(rows: 1, cols: 1), seed: 5, layer: 0)
        let x: Float = 0.8, d: Float = -0.5, lr: Float = 0.002
        let trials = 40_000
        var sum = 0.0, sumSq = 0.0
        for _ in 0..<trials {
            arr.uPos[0] = 0.5; arr.uNeg[0] = 0.5; arr.cachedWeights = nil
            let before = Double(arr.weights[0, 0])
            arr.update(
                post: Matrix(rows: 1, cols: 1, storage: [d]), pre: Matrix(rows: 1, cols: 1, storage: [x]), scale: lr)
            let dw = Double(arr.weights[0, 0]) - before
            sum += dw; sumSq += dw * dw
        }
        let mean = sum / Double(trials), variance = sumSq / Double(trials) - mean * mean
        let expected = Double(lr * x * d)
        let s = spec.dwMin, fs = Double(arr.fullScale), bl = Double(spec.bl)
        let p = abs(expected) / (2 * fs * s * bl)
        let analyticVar = fs * fs * s * s * (4 * bl * p * (1 - p) + 2 * 0.09 * bl * p)
        let se = (analyticVar / Double(trials)).squareRoot()
        #expect(abs(mean - expected) <= 3 * se, "mean \(mean) vs \(expected) (3σ = \(3 * se))")
        #expect(abs(variance / analyticVar - 1) <= 0.05, "variance \(variance) vs \(analyticVar)")
    }

    // MARK: NeuroSim curve

    @Test func nonlinearityLabelsGivePublishedA() {
        for (nl, a) in [(0.5, 2.5199), (2.4, 0.4992), (4.88, 0.2003)] {
            let solved = NonlinearityLabel.normalizedA(label: nl)
            #expect(abs(solved / a - 1) <= 0.01, "NL \(nl): A/P_max \(solved) vs \(a)")
        }
    }

    @Test func exponentialCurveHitsGMaxAtPMax() {
        var rng = RandomStream(seed: 1)
        let dev = ExponentialLaw(pulses: 97, nlLtp: 2.4, nlLtd: -4.88).sampleDevice(using: &rng)
        let top = dev.potentiated(0, pulses: 97)
        #expect(abs(top - 1) <= 1e-5, "G(P_max) = \(top)")
        // Nonlinear: the first step is larger than the mean step 1/P_max, the last smaller.
        let first = dev.potentiated(0, pulses: 1)
        let last = top - dev.potentiated(0, pulses: 96)
        #expect(first > 1.0 / 97 && last < 1.0 / 97)
        // Step ratio first/last = e^{1/a} (a = A/P_max), the NeuroSim relation.
        let a = NonlinearityLabel.normalizedA(label: 2.4)
        #expect(abs(Double(first / last) / exp((1 - 1.0 / 97) / a) - 1) < 0.01)
    }

    /// Every response model relaxes geometrically, so n pulses at once (closed form, tabulated ρⁿ for
    /// the shared nominal response, ρⁿ by pow with d2d spread) equal n single pulses, and the
    /// exponential model equals NeuroSim's u = B(1 − e^{−P/A}) advanced along the pulse axis.
    @Test(arguments: [DeviceModel.exponential, .softBounds, .linearStep])
    func pulsesAtOnceEqualPulsesOneByOne(model: DeviceModel) {
        var spec = DeviceSpec(); spec.model = model; spec.pulses = 50; spec.nlLtp = 2.4; spec.nlLtd = -1.5
        spec.dwMin = 0.02; spec.gammaUp = 0.5; spec.gammaDown = 0.8; spec.upDown = 0.1; spec.maxPulses = 40
        for spread in [false, true] {
            var s = spec
            if spread { s.nlDtod = 0.3; s.dwMinDtod = 0.2; s.gammaDtod = 0.1 }
            let arr = CrossbarArray(spec: s, weights: Self.random(3, 4, seed: 5, scale: 0.1), seed: 2, layer: 0)
            for i in 0..<arr.count {
                let table = arr.devPos, dev = table[i]
                for (u0, n) in [(Float(0.1), Float(1)), (0.3, 7), (0.8, 40), (0.05, 23)] {
                    var one = u0, down = u0
                    for _ in 0..<Int(n) {
                        one = table.potentiated(one, device: i, pulses: 1)
                        down = table.depressed(down, device: i, pulses: 1)
                    }
                    #expect(
                        abs(table.potentiated(u0, device: i, pulses: n) - one) <= 2e-6,
                        "\(model) spread \(spread): up \(n) from \(u0)")
                    #expect(
                        abs(table.depressed(u0, device: i, pulses: n) - down) <= 2e-6,
                        "\(model) spread \(spread): down \(n) from \(u0)")
                    if model == .exponential {
                        // NeuroSim's curve: P₀ = −A ln(1 − u₀/B), u = B(1 − e^{−(P₀+n)/A}), A = −1/ln ρ.
                        let a = -1 / Foundation.log(dev.rhoUp), b = Double(dev.fixedUp)
                        let p0 = -a * Foundation.log(1 - Double(u0) / b)
                        #expect(
                            abs(
                                Double(table.potentiated(u0, device: i, pulses: n)) - b
                                    * (1 - Foundation.exp(-(p0 + Double(n)) / a))) <= 2e-6)
                    }
                }
            }
        }
    }

    // MARK: read lanes

    /// Parts of a batch relaxed concurrently read through separate lanes: the lanes see the same
    /// time-correlated noise at the same step (they are rows of one batch, read at the same instants)
    /// and draw their white noise from their own streams; lane 0 is the array's original read path.
    @Test func lanesShareTimeCorrelatedNoiseAndOwnTheirWhiteNoise() {
        var spec = DeviceSpec(); spec.model = .linearStep; spec.dwMin = 1e-4
        spec.flickerK = 1e-4; spec.tStep = 1e-6; spec.noiseLength = 64
        let w = Self.random(6, 8, seed: 1, scale: 0.3), x = Self.random(2, 8, seed: 2)
        func reads(white: Double, laneCount: Int, steps: Int, laneAfterLane: Bool = false) -> [[Matrix<Float>]] {
            var s = spec; s.whiteNoise = white
            let arr = CrossbarArray(spec: s, weights: w, seed: 3, layer: 1)
            let clocks = (0..<laneCount).map { ReadClock(lane: $0) }
            var out = [[Matrix<Float>]](repeating: [], count: laneCount)
            func step(_ k: Int) {
                var y = Matrix<Float>(rows: 2, cols: 6)
                arr.multiply(x, into: &y, accumulate: false, clock: clocks[k])
                var z = Matrix<Float>(rows: 2, cols: 8)
                arr.multiplyTransposed(y, into: &z, accumulate: false, clock: clocks[k])
                out[k].append(y); out[k].append(z)
                clocks[k].step()
            }
            // 80 steps cross two block boundaries (32 usable samples per block). Lane after lane: lane
            // 0 runs two blocks ahead, so lane 1 finds the older blocks released and draws them again.
            if laneAfterLane {
                for k in 0..<laneCount { for _ in 0..<steps { step(k) } }
            } else {
                for _ in 0..<steps { for k in 0..<laneCount { step(k) } }
            }
            return out
        }
        let flickerOnly = reads(white: 0, laneCount: 2, steps: 80)
        #expect(flickerOnly[0] == flickerOnly[1])
        #expect(Set(flickerOnly[0].map(\.storage)).count > 100, "the noise changes over time")
        let both = reads(white: 0.01, laneCount: 2, steps: 80)
        #expect(both[0] != both[1])
        // Lane 0 alone gives the same numbers as lane 0 next to another lane.
        #expect(reads(white: 0.01, laneCount: 1, steps: 80)[0] == both[0])
        #expect(reads(white: 0.01, laneCount: 2, steps: 80) == both)
        #expect(reads(white: 0.01, laneCount: 2, steps: 80, laneAfterLane: true) == both)
    }

    // MARK: quantization, variability, faults

    @Test func quantizedArrayStaysOnTheGrid() {
        var spec = DeviceSpec(); spec.model = .exponential; spec.pulses = 64; spec.nlLtp = 1; spec.nlLtd = -1
        spec.levels = 16; spec.c2c = 0.01; spec.programming = .deterministic; spec.rounding = .stochastic
        let arr = CrossbarArray(spec: spec, weights: Self.random(20, 30, seed: 3, scale: 0.5), seed: 9, layer: 0)
        for k in 0..<20 {
            arr.update(
                post: Self.random(4, 20, seed: UInt64(100 + k)), pre: Self.random(4, 30, seed: UInt64(200 + k)),
                scale: 0.05)
        }
        for i in 0..<arr.count {
            for u in [arr.uPos[i], arr.uNeg[i]] {
                let k = u * 15
                #expect(abs(k - k.rounded()) < 1e-4 && u >= 0 && u <= 1, "u = \(u) is off the 16-level grid")
            }
        }
    }

    /// c2c σ after n pulses ∝ √n (linear device mid-range, no clipping, no quantization).
    @Test func cycleToCycleSpreadGrowsAsSqrtN() {
        var spec = DeviceSpec(); spec.model = .exponential; spec.nlLtp = 0; spec.nlLtd = 0; spec.pulses = 1000;
        spec.c2c = 0.002
        spec.programming = .deterministic; spec.rounding = .nearest; spec.maxPulses = 1000
        var sigmas: [Double] = []
        for n in [1, 4, 16, 64] {
            let arr = CrossbarArray(spec: spec, weights: Matrix(rows: 100, cols: 100), seed: UInt64(n), layer: 0)
            for i in 0..<arr.count { arr.uPos[i] = 0.4; arr.uNeg[i] = 0.4 }
            // n pulses on every device: ΔW = n·2·w_fs·ΔU_step.
            let unit = 2 * arr.fullScale / 1000 * Float(n)
            arr.update(
                post: Matrix(rows: 1, cols: 100, repeating: 1), pre: Matrix(rows: 1, cols: 100, repeating: unit),
                scale: 1)
            let moved = arr.uPos.map { Double($0) - 0.4 }
            let m = moved.reduce(0, +) / Double(moved.count)
            #expect(abs(m - Double(n) / 1000) < 1e-3)
            sigmas.append((moved.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(moved.count)).squareRoot())
        }
        for (k, n) in [1, 4, 16, 64].enumerated() {
            let ratio = sigmas[k] / (sigmas[0] * Double(n).squareRoot())
            #expect(abs(ratio - 1) < 0.05, "σ(\(n))/(σ(1)√\(n)) = \(ratio)")
        }
        #expect(abs(sigmas[0] / 0.002 - 1) < 0.05)
    }

    @Test func deviceToDeviceDrawsAreSeeded() {
        var spec = DeviceSpec(); spec.model = .linearStep; spec.dwMinDtod = 0.3; spec.upDownDtod = 0.05
        let w = Matrix<Float>(rows: 10, cols: 10)
        let a = CrossbarArray(spec: spec, weights: w, seed: 1, layer: 0),
            b = CrossbarArray(spec: spec, weights: w, seed: 1, layer: 0)
        let c = CrossbarArray(spec: spec, weights: w, seed: 2, layer: 0)
        #expect(a.devPos.perDevice.count == 100)
        #expect(a.devPos.perDevice.map(\.stepUp) == b.devPos.perDevice.map(\.stepUp))
        let differ = zip(a.devPos.perDevice, c.devPos.perDevice).filter { $0.stepUp != $1.stepUp }.count
        #expect(differ >= 99, "only \(differ) of 100 draws differ across seeds")
    }

    @Test func stuckAtFractionsAreAsRequested() {
        var spec = DeviceSpec(); spec.model = .linearStep; spec.stuckMin = 0.01; spec.stuckMax = 0.03
        let arr = CrossbarArray(spec: spec, weights: Matrix(rows: 512, cols: 784), seed: 4, layer: 0)
        let n = Double(2 * arr.count)
        let all = arr.faults.positive + arr.faults.negative
        for (code, p) in [(UInt8(1), 0.01), (UInt8(2), 0.03)] {
            let k = Double(all.filter { $0 == code }.count)
            let sd = (n * p * (1 - p)).squareRoot()
            #expect(abs(k - n * p) <= 3 * sd, "stuck \(code): \(k) vs \(n * p) ± \(3 * sd)")
        }
        // Stuck devices hold their bound through updates.
        arr.update(
            post: Matrix(rows: 1, cols: 512, repeating: 1), pre: Matrix(rows: 1, cols: 784, repeating: 1), scale: 0.1)
        for i in 0..<arr.count where arr.faults.positive[i] != 0 {
            #expect(arr.uPos[i] == (arr.faults.positive[i] == 1 ? 0 : 1))
        }
    }

    // MARK: DAC / ADC

    @Test(arguments: [4, 7, 9])
    func converterLevelsAndClipping(bits: Int) {
        let bound: Float = 2
        var v = (0..<20_001).map { Float($0 - 10_000) / 10_000 * 3 * bound }  // ±1.5·bound, dense
        v.withUnsafeMutableBufferPointer { Converter.quantize($0, bits: bits, bound: bound) }
        #expect(Set(v).count == (1 << bits) - 1, "\(bits) bits: \(Set(v).count) levels")
        #expect(v.first == -bound && v.last == bound)
        #expect(v.allSatisfy { abs($0) <= bound })
    }

    // MARK: presets

    @Test func presetsLoadAndValidate() throws {
        let names = PresetLocator.available(kind: "devices")
        for n in [
            "ideal", "ag-a-si", "taox-hfox", "pcmo", "alox-hfo2", "gst-pcm", "epiram", "hzo-fefet", "reram-sb", "ecram",
            "pcm"
        ] {
            #expect(names.contains(n), "missing preset \(n)")
            let s = try DeviceSpec.load(n)
            #expect(s.name == n)
            if n != "ideal" { #expect(!s.source.isEmpty && !s.measured.isEmpty) }
        }
    }

    @Test func badPresetsNameTheField() {
        let cases: [(String, String)] = [
            ("name: x\nfoo: 1\n", "unknown field 'foo'"),
            ("name: x\nmodel: linear-step\ng_min: 1e-4\ng_max: 1e-5\n", "'g_max'"),
            ("name: x\nmodel: linear-step\nlevels: 1\n", "'levels'"),
            ("name: x\nmodel: linear-step\nc2c: -0.1\n", "'c2c'"),
            ("name: x\nmodel: linear-step\nstuck_min: 1.5\n", "'stuck_min'"),
            (
                "name: x\nmodel: memristor\n",
                "field 'model' must be one of ideal, linear-step, soft-bounds, exponential, aihwkit-linear-step, "
                    + "aihwkit-soft-bounds, aihwkit-exp-step, aihwkit-pow-step, aihwkit-piecewise-step (got "
                    + "'memristor')"
            ),
            ("name: x\nlevels: 64\n", "missing field 'model'"),
            ("name: x\nmodel: linear-step\nlevels: 2.5\n", "field 'levels' must be an integer"),
            (
                "name: x\nmodel: linear-step\nrounding: up\n",
                "field 'rounding' must be one of nearest, stochastic (got 'up')"
            ),
            (
                "a: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n",
                "nested 5000 deep"
            )
        ]
        for (yaml, expected) in cases {
            do {
                _ = try DeviceSpec.decode(yaml: yaml, source: "bad.yaml")
                Issue.record("no error for \(yaml)")
            } catch let e as InputError {
                #expect(e.message.contains(expected), "\(e.message)")
            } catch { Issue.record("unexpected \(error)") }
        }
    }
}

/// The output-referred read noise against an explicit per-device simulation: same variance
/// (α²σ_n²Σ_j(G⁺² + G⁻²)x_j² in normalized units) and same spectrum, for a constant input.
@Suite struct OutputReferredNoiseTests {
    static func slope(_ p: [Double], dt: Double, n: Int) -> Double {
        let df = 1 / (Double(n) * dt)
        let pts = (4...400).map { k in (log(Double(k) * df), log(p[k - 1])) }
        let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
        return pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
    }

    @Test func matchesPerDeviceModel() {
        var spec = DeviceSpec()
        spec.model = .linearStep; spec.flickerK = 1e-4; spec.flickerGamma = 1; spec.tStep = 1e-6
        spec.gMin = 1e-6; spec.gMax = 1e-4  // r = G_min/(G_max − G_min) ≈ 0.0101
        let out = 2, inp = 6
        var g = RandomStream(seed: 3, stream: "w")
        let w = Matrix<Float>(rows: out, cols: inp, storage: (0..<(out * inp)).map { _ in Float(g.uniform(-0.5, 0.5)) })
        let x = Matrix<Float>(rows: 1, cols: inp, storage: (0..<inp).map { Float(0.2 + 0.1 * Double($0)) })
        let arr = CrossbarArray(spec: spec, weights: w, seed: 7, layer: 0)
        let ideal = arr.weights
        var clean = Matrix<Float>(rows: 1, cols: out)
        gemm(x, ideal, transposeB: true, into: &clean)
        let blocks = 150, len = 2048
        // Output-referred: the array's reads over time.
        var ys: [[Double]] = Array(repeating: [], count: out)
        let clock = ReadClock()
        for _ in 0..<(blocks * len) {
            var y = Matrix<Float>(rows: 1, cols: out)
            arr.multiply(x, into: &y, accumulate: false, clock: clock)
            for i in 0..<out { ys[i].append(Double(y[0, i] - clean[0, i])) }
            clock.step()
        }
        // Per-device: every device of the pair gets its own trace n(t); e_i = w_fs·Σ_j[(u⁺+r)n⁺ − (u⁻+r)n⁻]x_j.
        let synth = NoiseSynthesizer(spectrum: .flicker(k: spec.flickerK, gamma: 1), length: 4096, dt: spec.tStep)
        var rng = RandomStream(seed: 11, stream: "per-device")
        let r = Float(spec.gMin / (spec.gMax - spec.gMin)), fs = arr.fullScale
        var es: [[Double]] = Array(repeating: [], count: out)
        for _ in 0..<blocks {
            var acc = [[Double]](repeating: [Double](repeating: 0, count: len), count: out)
            for i in 0..<out {
                for j in 0..<inp {
                    let (up, un) = arr.conductances(row: i, col: j)
                    let tp = synth.trace(using: &rng), tn = synth.trace(using: &rng)
                    for t in 0..<len {
                        acc[i][t] += Double(fs * ((up + r) * tp[t] - (un + r) * tn[t]) * x[0, j])
                    }
                }
            }
            for i in 0..<out { es[i] += acc[i] }
        }
        for i in 0..<out {
            var h = 0.0
            for j in 0..<inp {
                let (up, un) = arr.conductances(row: i, col: j)
                h += (Double(up + r) * Double(up + r) + Double(un + r) * Double(un + r)) * Double(x[0, j] * x[0, j])
            }
            let analytic = Double(fs * fs) * synth.variance * h
            let vOut = ys[i].reduce(0) { $0 + $1 * $1 } / Double(ys[i].count)
            let vDev = es[i].reduce(0) { $0 + $1 * $1 } / Double(es[i].count)
            #expect(abs(vOut / analytic - 1) <= 0.05, "line \(i): output-referred variance \(vOut) vs \(analytic)")
            #expect(abs(vDev / analytic - 1) <= 0.05, "line \(i): per-device variance \(vDev) vs \(analytic)")
            // Spectra: averaged periodograms of 2048-sample blocks, slopes within 0.05 of each other.
            func avgPeriodogram(_ v: [Double]) -> [Double] {
                var avg = [Double](repeating: 0, count: len / 2)
                for b in 0..<blocks {
                    let p = NoiseSynthesizer.periodogram(
                        v[(b * len)..<((b + 1) * len)].map { Float($0) }, dt: spec.tStep)
                    for k in p.indices { avg[k] += p[k] / Double(blocks) }
                }
                return avg
            }
            let so = Self.slope(avgPeriodogram(ys[i]), dt: spec.tStep, n: len),
                sd = Self.slope(avgPeriodogram(es[i]), dt: spec.tStep, n: len)
            #expect(
                abs(so - sd) <= 0.05 && abs(so + 1) <= 0.1,
                "line \(i): slopes \(so) (output-referred) vs \(sd) (per device)")
        }
    }

    @Test func referenceMappingHoldsAndProgramsWeights() {
        var spec = DeviceSpec()
        spec.model = .linearStep; spec.mapping = .reference; spec.dwMin = 1e-4; spec.programming = .deterministic
        spec.rounding = .nearest; spec.maxPulses = 10_000
        let w = CrossbarTests.random(4, 9, seed: 2, scale: 0.3)
        let arr = CrossbarArray(spec: spec, weights: w, seed: 1, layer: 0)
        for i in 0..<w.count { #expect(abs(arr.weights.storage[i] - w.storage[i]) < 1e-5) }
        let post = CrossbarTests.random(2, 4, seed: 5), pre = CrossbarTests.random(2, 9, seed: 6)
        let before = arr.weights
        arr.update(post: post, pre: pre, scale: 0.1)
        // Realized change within half a pulse (2·w_fs·dw_min/2) of the request, per weight.
        let tol = arr.fullScale * Float(spec.dwMin) * 1.01
        for i in 0..<4 {
            for j in 0..<9 {
                let want = 0.1 * (0..<2).reduce(Float(0)) { $0 + post[$1, i] * pre[$1, j] }
                #expect(abs(arr.weights[i, j] - before[i, j] - want) <= tol)
            }
        }
        #expect(arr.uNeg.allSatisfy { $0 == 0.5 })
    }
}
