import EqProp
import Foundation

// The figures of `xbar`'s commands, drawn from the library's results with `SVGChart`.

extension FidelityRun {
    /// An SVG chart: for one result, cosine and sign agreement per layer; for two, cosine per layer with
    /// its interval; for more, 1 − cosine per variant and layer.
    public static func svg(_ results: [Result], title: String) -> String {
        let layers = results.first?.layers.map(\.layer) ?? []
        if results.count == 1, let r = results.first {
            let panel = SVGChart.Panel(
                title: "cosine with −lr·∇BPTT (mean over \(r.batches) batches)", xLabel: "weight matrix",
                yLabel: "cosine",
                content: .bars(
                    categories: layers,
                    groups: [
                        (name: "95 % low", values: r.layers.map(\.cosine.low), color: "#9ecae1"),
                        (name: "mean", values: r.layers.map(\.cosine.mean), color: SVGChart.palette[0]),
                        (name: "95 % high", values: r.layers.map(\.cosine.high), color: "#3182bd")
                    ]))
            let sign = SVGChart.Panel(
                title: "sign agreement (%)", xLabel: "weight matrix", yLabel: "%",
                content: .bars(
                    categories: layers,
                    groups: [(name: "mean", values: r.layers.map(\.signAgreement.mean), color: SVGChart.palette[2])]))
            return SVGChart.render(title: title, panels: [panel, sign], columns: 2)
        }
        let cats = results.map(\.variant)
        if results.count == 2 {
            // A head-to-head comparison: cosine per layer with its 95 % interval.
            let panels = layers.indices.map { li in
                SVGChart.Panel(
                    title: "\(layers[li]): cosine with −lr·∇BPTT (mean, 95 % interval)", xLabel: "", yLabel: "cosine",
                    content: .bars(
                        categories: cats,
                        groups: [
                            (name: "95 % low", values: results.map { $0.layers[li].cosine.low }, color: "#9ecae1"),
                            (
                                name: "mean", values: results.map { $0.layers[li].cosine.mean },
                                color: SVGChart.palette[0]
                            ),
                            (name: "95 % high", values: results.map { $0.layers[li].cosine.high }, color: "#3182bd")
                        ]))
            }
            return SVGChart.render(title: title, panels: panels, columns: 2)
        }
        let loss = SVGChart.Panel(
            title: "1 − cosine with −lr·∇BPTT, per variant", xLabel: "non-ideality switched on alone",
            yLabel: "1 − cosine",
            content: .bars(
                categories: cats,
                groups: layers.indices.map { li in
                    (
                        name: layers[li], values: results.map { 1 - $0.layers[li].cosine.mean },
                        color: SVGChart.palette[li % SVGChart.palette.count]
                    )
                }))
        return SVGChart.render(
            title: title, panels: [loss], columns: 1, panelWidth: 140 + 90 * Double(cats.count), panelHeight: 380)
    }
}

extension FidelityRun {
    /// Accumulated fidelity against window length: per weight matrix, the mean cosine (with its 95 %
    /// interval as a band) and the norm ratio against the window, one line per scheme. Variants are
    /// grouped by their name before ", window".
    public static func windowSVG(_ results: [Result], title: String) -> String {
        let layers = results.first?.layers.map(\.layer) ?? []
        var groups: [(name: String, runs: [Result])] = []
        for r in results {
            let name = r.variant.components(separatedBy: ", window").first ?? r.variant
            if let i = groups.firstIndex(where: { $0.name == name }) {
                groups[i].runs.append(r)
            } else {
                groups.append((name, [r]))
            }
        }
        var panels: [SVGChart.Panel] = []
        for li in layers.indices {
            let cos = groups.enumerated().map { k, g in
                SVGChart.Series(
                    name: g.name, x: g.runs.map { Double($0.window) }, y: g.runs.map { $0.layers[li].cosine.mean },
                    color: SVGChart.palette[k % SVGChart.palette.count],
                    spread: g.runs.map { ($0.layers[li].cosine.high - $0.layers[li].cosine.low) / 2 })
            }
            panels.append(
                .init(
                    title: "\(layers[li]): cosine of the accumulated change with Σ −lr·∇BPTT",
                    xLabel: "window (batches)",
                    yLabel: "cosine", content: .lines(cos), logX: true))
            let ratio = groups.enumerated().map { k, g in
                SVGChart.Series(
                    name: g.name, x: g.runs.map { Double($0.window) },
                    y: g.runs.map { $0.layers[li].normRatio?.mean ?? .nan },
                    color: SVGChart.palette[k % SVGChart.palette.count])
            }
            panels.append(
                .init(
                    title: "\(layers[li]): norm ratio ‖realized‖/‖exact‖", xLabel: "window (batches)",
                    yLabel: "norm ratio",
                    content: .lines(ratio), logY: true, logX: true))
        }
        return SVGChart.render(title: title, panels: panels, columns: 2)
    }
}

extension GDUDocument {
    /// ΔEP (dashed) vs −∇BPTT (solid) over t for the kept components of each layer, and the RelMSE
    /// per layer, like the seed's Figs. 3–4.
    public func svg() -> String {
        var panels: [SVGChart.Panel] = []
        for l in layers {
            let ss = series.filter { $0.layer == l.layer }
            var lines: [SVGChart.Series] = []
            for (k, s) in ss.enumerated() {
                let c = SVGChart.palette[k % SVGChart.palette.count]
                let t = (0..<s.ep.count).map(Double.init)
                lines.append(.init(name: k == 0 ? "−∇BPTT (solid)" : "", x: t, y: s.bptt, color: c))
                lines.append(.init(name: k == 0 ? "ΔEP (dashed)" : "", x: t, y: s.ep, color: c, dashed: true))
            }
            panels.append(
                .init(
                    title: "\(l.layer) (\(l.kind)), RelMSE \(String(format: "%.3g", l.agreement.relmse))",
                    xLabel: "t (steps back from T)",
                    yLabel: l.kind == "neurons" ? "ΔS" : "ΔW", content: .lines(lines)))
        }
        panels.append(
            .init(
                title: "RelMSE per layer", xLabel: "layer", yLabel: "RelMSE",
                content: .bars(
                    categories: layers.map(\.layer),
                    groups: [(name: "RelMSE", values: layers.map(\.agreement.relmse), color: SVGChart.palette[0])]),
                logY: true))
        return SVGChart.render(
            title: "GDU check: \(model), β = \(beta), \(precision.rawValue) precision, batch \(batchSize)",
            panels: panels, columns: 2)
    }
}

extension Characterization {
    /// The curve as an SVG chart: conductance (µS) vs pulse number, nominal, mean and mean ± std.
    public static func curveSVG(_ c: Curve, spec: DeviceSpec) -> String {
        let x = c.pulse.map(Double.init)
        let range = spec.gMax - spec.gMin
        func siemens(_ v: [Double]) -> [Double] { v.map { (spec.gMin + $0 * range) * 1e6 } }
        let upper = zip(c.mean, c.std).map { $0 + $1 }, lower = zip(c.mean, c.std).map { $0 - $1 }
        let panel = SVGChart.Panel(
            title: String(format: "step ratio first/last: LTP %.3g, LTD %.3g", c.stepRatioLTP, c.stepRatioLTD),
            xLabel: "pulse number (potentiation, then depression)", yLabel: "conductance (µS)",
            content: .lines([
                .init(name: "nominal", x: x, y: siemens(c.nominal), color: SVGChart.palette[0]),
                .init(
                    name: "mean ± std (d2d + c2c)", x: x, y: siemens(upper), color: SVGChart.palette[1], dashed: true),
                .init(name: "", x: x, y: siemens(lower), color: SVGChart.palette[1], dashed: true),
                .init(name: "mean", x: x, y: siemens(c.mean), color: SVGChart.palette[2])
            ]))
        return SVGChart.render(
            title: "\(spec.name): conductance vs pulse (\(spec.model.rawValue))", panels: [panel], columns: 1,
            panelWidth: 640, panelHeight: 380)
    }

    /// The reports as an SVG chart, one log-log panel per component: periodogram vs target S(f).
    public static func noiseSVG(_ reports: [NoiseReport], device: String) -> String {
        let panels = reports.map { r -> SVGChart.Panel in
            let lf = r.frequencies.map { log10($0) }
            let title =
                r.fittedSlope.map {
                    String(
                        format: "%@: slope %.3f (target %.2f), variance %.3g (target %.3g)", r.component, $0,
                        r.targetSlope ?? 0, r.measuredVariance, r.targetVariance)
                }
                ?? String(format: "%@: variance %.3g (target %.3g)", r.component, r.measuredVariance, r.targetVariance)
            return SVGChart.Panel(
                title: title, xLabel: "log10 frequency (Hz)", yLabel: "PSD (1/Hz)",
                content: .lines([
                    .init(
                        name: "periodogram (\(r.traces) traces)", x: lf, y: r.periodogram, color: SVGChart.palette[0]),
                    .init(name: "target S(f)", x: lf, y: r.target, color: SVGChart.palette[1], dashed: true)
                ]), logY: true)
        }
        return SVGChart.render(
            title: "\(device): synthesized read noise vs target PSD", panels: panels, columns: 1, panelWidth: 640,
            panelHeight: 360)
    }
}
