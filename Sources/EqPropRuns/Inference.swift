import EqProp
import Foundation

/// `xbar infer`: a network trained on crossbars, evaluated at times after its weights were programmed
/// (conductance drift, the growing 1/f wander, optional global drift compensation; see `Drift`).
public enum Inference {
    /// Test errors at each time, over several draws of the wander.
    public struct Result: Codable, Sendable {
        /// The device (with its drift parameters) and whether outputs were drift-compensated.
        public var device: DeviceSpec
        public var compensate: Bool
        /// Test examples evaluated and draws per time.
        public var testExamples: Int, draws: Int
        /// Test error (%) of the weights as programmed (at t₀, before drift), read as in training.
        public var programmed: Double
        /// The times as given (`1h`) and in seconds after the reference read.
        public var labels: [String], seconds: [Double]
        /// Per time, the test error (%) of each draw, and their mean and standard deviation.
        public var errors: [[Double]], mean: [Double], std: [Double]
        enum CodingKeys: String, CodingKey {
            case device, compensate, testExamples = "test_examples", draws, programmed, labels, seconds, errors, mean,
                std
        }
    }

    /// Seconds per unit of a time: s, m (minutes), h, d, w, y (365.25 days).
    static let units: [(String, Double)] = [
        ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800), ("y", 31_557_600)
    ]

    /// Parses a comma-separated list of times after programming (`1s,1h,1d,1y`; a bare number is in
    /// seconds): each in (0, 1e10] s, strictly increasing.
    public static func parseTimes(_ text: String) throws -> [(label: String, seconds: Double)] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var out: [(String, Double)] = []
        for p in parts {
            guard !p.isEmpty else { throw InputError(options: "{at}: empty time in '\(text)'") }
            let unit = units.first { p.hasSuffix($0.0) && Double(p.dropLast($0.0.count)) != nil }
            guard let value = unit.map({ Double(p.dropLast($0.0.count))! }) ?? Double(p) else {
                throw InputError(
                    options: "{at}: '\(p)' is not a time (a number with an optional unit s, m, h, d, w or y)")
            }
            let s = value * (unit?.1 ?? 1)
            guard s.isFinite && s > 0 && s <= 1e10 else {
                throw InputError(options: "{at}: '\(p)' must be in (0, 1e10] s (got \(s) s)")
            }
            if let last = out.last, s <= last.1 {
                throw InputError(options: "{at}: times must be increasing ('\(p)' is not after '\(last.0)')")
            }
            out.append((p, s))
        }
        return out
    }

    /// Evaluates the checkpoint's network on `device` (its drift and read parameters) as programmed
    /// and at every time, `draws` times each; `progress` hears each step.
    public static func run(
        checkpoint ck: TrainingRun.Checkpoint, device: DeviceSpec, times: [(label: String, seconds: Double)],
        draws: Int, compensate: Bool, data: DataSet, progress: ((String) -> Void)? = nil
    ) throws -> Result {
        var options = ck.options
        options.device = device
        let trainer = try AnyTrainer(
            spec: ck.spec, parameters: ck.parameters, arrayState: ck.arrayState, options: options, data: data)
        let references = trainer.arrays.map(\.state)
        progress?("as programmed")
        let programmed = trainer.evaluate(data.test)
        var errors: [[Double]] = []
        for (label, t) in times {
            var row: [Double] = []
            for k in 1...draws {
                progress?("t = \(label), draw \(k) of \(draws)")
                for (a, ref) in zip(trainer.arrays, references) {
                    try a.age(to: t, from: ref, draw: k, compensate: compensate)
                }
                row.append(trainer.evaluate(data.test))
            }
            errors.append(row)
        }
        for (a, ref) in zip(trainer.arrays, references) { try a.restore(ref) }
        let mean = errors.map { $0.reduce(0, +) / Double($0.count) }
        let std = zip(errors, mean).map { e, m in
            e.count > 1 ? (e.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(e.count - 1)).squareRoot() : 0
        }
        return Result(
            device: device, compensate: compensate, testExamples: data.test.count, draws: draws, programmed: programmed,
            labels: times.map(\.label), seconds: times.map(\.seconds), errors: errors, mean: mean, std: std)
    }

    /// Test error against time after programming (log axis), with the draws' spread; the error as
    /// programmed is the flat reference line. Several results (e.g. with and without compensation,
    /// or two devices) share the chart.
    public static func svg(_ results: [(name: String, result: Result)], title: String) -> String {
        var series: [SVGChart.Series] = []
        for (k, r) in results.enumerated() {
            let color = SVGChart.palette[(2 * k) % SVGChart.palette.count]
            series.append(
                .init(name: r.name, x: r.result.seconds, y: r.result.mean, color: color, spread: r.result.std))
            series.append(
                .init(
                    name: r.name + ", as programmed", x: r.result.seconds,
                    y: r.result.seconds.map { _ in r.result.programmed },
                    color: SVGChart.palette[(2 * k + 1) % SVGChart.palette.count]))
        }
        let panel = SVGChart.Panel(
            title: "test error after programming", xLabel: "time after the reference read (s)",
            yLabel: "test error (%)",
            content: .lines(series), logX: true)
        return SVGChart.render(title: title, panels: [panel], columns: 1)
    }
}
