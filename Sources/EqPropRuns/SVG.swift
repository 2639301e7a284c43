import EqProp
import Foundation

/// A small SVG chart writer: grids of line panels and grouped-bar panels, no dependencies.
public enum SVGChart {
    /// One data series of a line panel: a line, or markers only.
    public struct Series: Sendable {
        /// Legend label; an empty name leaves the series out of the legend.
        public var name: String
        /// x coordinates.
        public var x: [Double]
        /// y coordinates, one per x; non-finite values are not drawn.
        public var y: [Double]
        /// SVG color of the line and markers (e.g. an entry of `palette`).
        public var color: String
        /// Draws the line dashed instead of solid.
        public var dashed: Bool
        /// Optional ± spread around y (drawn as a shaded band with point markers), e.g. a std over seeds.
        public var spread: [Double]?
        /// Markers only, no connecting line (scatter of random-search points).
        public var pointsOnly: Bool
        /// A series drawn as a solid line unless `dashed` or `pointsOnly` is set.
        public init(
            name: String, x: [Double], y: [Double], color: String, dashed: Bool = false, spread: [Double]? = nil,
            pointsOnly: Bool = false
        ) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.dashed = dashed; self.spread = spread;
            self.pointsOnly = pointsOnly
        }
    }

    /// What a panel draws.
    public enum Content: Sendable {
        /// Line series on shared axes; series with a name get a legend entry.
        case lines([Series])
        /// Categories on x; one bar per group per category.
        case bars(categories: [String], groups: [(name: String, values: [Double], color: String)])
        /// A grid of cells (values[row][column], rows bottom → top along yLabels), colored on a
        /// sequential scale and labelled with their value; NaN cells are left blank.
        case heatmap(xLabels: [String], yLabels: [String], values: [[Double]])
    }

    /// One chart of the grid: title, axis labels and content.
    public struct Panel: Sendable {
        /// Title above the panel.
        public var title: String
        /// Label of the x axis.
        public var xLabel: String
        /// Label of the y axis.
        public var yLabel: String
        /// What the panel draws.
        public var content: Content
        /// Line and bar panels only: logarithmic y axis.
        public var logY: Bool
        /// Line panels only: logarithmic x axis (all x > 0).
        public var logX: Bool
        /// A panel; axis labels default to empty and both axes to linear.
        public init(
            title: String, xLabel: String = "", yLabel: String = "", content: Content, logY: Bool = false,
            logX: Bool = false
        ) {
            self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.content = content; self.logY = logY;
            self.logX = logX
        }
    }

    /// Ten distinct colors (the tab10 set, reordered) as hex strings, for series and bar groups.
    public static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"
    ]

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }

    static func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.1e", v) }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.3g", v) }
        return String(format: "%.3g", v)
    }

    /// About five round tick values covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// A standalone SVG document: `title` above `panels` laid out in `columns` columns, each panel
    /// panelWidth × panelHeight SVG pixels.
    public static func render(
        title: String, panels: [Panel], columns: Int = 2, panelWidth: Double = 420, panelHeight: Double = 280
    ) -> String {
        let cols = max(1, min(columns, panels.count))
        let rows = (panels.count + cols - 1) / cols
        let W = Double(cols) * panelWidth, H = Double(rows) * panelHeight + 36
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" viewBox=\"0 0 "
            + "\(Int(W)) \(Int(H))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s +=
            "<text x=\"\(W / 2)\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" "
            + "font-weight=\"bold\">\(esc(title))</text>\n"
        for (i, p) in panels.enumerated() {
            let ox = Double(i % cols) * panelWidth, oy = 36 + Double(i / cols) * panelHeight
            s += panel(p, ox: ox, oy: oy, w: panelWidth, h: panelHeight)
        }
        return s + "</svg>\n"
    }

    static func panel(_ p: Panel, ox: Double, oy: Double, w: Double, h: Double) -> String {
        let left = ox + 62, right = ox + w - 14, top = oy + 28, bottom = oy + h - 48
        var s =
            "<g>\n<text x=\"\((left + right) / 2)\" y=\"\(oy + 16)\" text-anchor=\"middle\" "
            + "font-size=\"13\">\(esc(p.title))</text>\n"
        s +=
            "<text x=\"\((left + right) / 2)\" y=\"\(oy + h - 10)\" text-anchor=\"middle\" "
            + "font-size=\"11\">\(esc(p.xLabel))</text>\n"
        s +=
            "<text transform=\"translate(\(ox + 14),\((top + bottom) / 2)) rotate(-90)\" text-anchor=\"middle\" "
            + "font-size=\"11\">\(esc(p.yLabel))</text>\n"
        let tr: (Double) -> Double = p.logY ? { log10(max($0, 1e-300)) } : { $0 }
        var ys: [Double] = []
        var xs: [Double] = []
        switch p.content {
        case .lines(let series):
            for se in series {
                ys += se.y.filter(\.isFinite).map(tr); xs += se.x
                if let sp = se.spread {
                    for (y, d) in zip(se.y, sp) where y.isFinite && d.isFinite { ys += [tr(y - d), tr(y + d)] }
                }
            }
        case .bars(_, let groups):
            for g in groups { ys += g.values.filter(\.isFinite).map(tr) }; if !p.logY { ys.append(0) }
        case .heatmap(let xl, let yl, let values):
            return s + heatmap(xl, yl, values, left: left, right: right, top: top, bottom: bottom) + "</g>\n"
        }
        var ylo = ys.min() ?? 0, yhi = ys.max() ?? 1
        if ylo == yhi { ylo -= 0.5; yhi += 0.5 }
        let pad = (yhi - ylo) * 0.06
        ylo -= pad; yhi += pad
        let Y: (Double) -> Double = { bottom - (tr($0) - ylo) / (yhi - ylo) * (bottom - top) }
        s +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(right - left)\" height=\"\(bottom - top)\" fill=\"none\" "
            + "stroke=\"#444\"/>\n"
        var yt: [Double] = ticks(ylo, yhi)
        if p.logY {
            // Decades, plus 2× and 5× when the range spans fewer than three decades.
            let mults: [Double] = (yhi - ylo) < 3 ? [1, 2, 5] : [1]
            yt = (Int(floor(ylo))...Int(ceil(yhi))).flatMap { e in mults.map { $0 * pow(10, Double(e)) } }
                .filter { log10($0) >= ylo && log10($0) <= yhi }
        }
        for t in yt {
            let y = Y(t)
            if y < top - 0.5 || y > bottom + 0.5 { continue }
            s += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(right)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 4)\" y=\"\(y + 4)\" text-anchor=\"end\" font-size=\"10\">\(fmt(t))</text>\n"
        }
        switch p.content {
        case .lines(let series):
            let tx: (Double) -> Double = p.logX ? { log10(max($0, 1e-300)) } : { $0 }
            var xlo = xs.map(tx).min() ?? 0, xhi = xs.map(tx).max() ?? 1
            if xlo == xhi { xlo -= 0.5; xhi += 0.5 }
            if p.logX { let padX = (xhi - xlo) * 0.04; xlo -= padX; xhi += padX }
            let X: (Double) -> Double = { left + (tx($0) - xlo) / (xhi - xlo) * (right - left) }
            var xt: [Double] = ticks(xlo, xhi)
            if p.logX {
                let unique = Array(Set(xs)).sorted()
                let mults: [Double] = (xhi - xlo) < 3 ? [1, 2, 5] : [1]
                xt =
                    unique.count <= 8
                    ? unique
                    : (Int(floor(xlo))...Int(ceil(xhi))).flatMap { e in mults.map { $0 * pow(10, Double(e)) } }
                        .filter { log10($0) >= xlo && log10($0) <= xhi }
            }
            for t in xt {
                s +=
                    "<text x=\"\(X(t))\" y=\"\(bottom + 14)\" text-anchor=\"middle\" "
                    + "font-size=\"10\">\(fmt(t))</text>\n"
            }
            for se in series {
                if let sp = se.spread {
                    let ok = zip(zip(se.x, se.y), sp).filter { $0.0.1.isFinite && $0.1.isFinite }
                    let upper = ok.map { "\(X($0.0.0)),\(Y($0.0.1 + $0.1))" },
                        lower = ok.reversed().map { "\(X($0.0.0)),\(Y($0.0.1 - $0.1))" }
                    s +=
                        "<polygon fill=\"\(se.color)\" fill-opacity=\"0.18\" stroke=\"none\" "
                        + "points=\"\((upper + lower).joined(separator: " "))\"/>\n"
                    for ((x, y), d) in ok {
                        s +=
                            "<circle cx=\"\(X(x))\" cy=\"\(Y(y))\" r=\"3\" fill=\"\(se.color)\"><title>\(fmt(x)): "
                            + "\(fmt(y)) ± \(fmt(d))</title></circle>\n"
                    }
                }
                if se.pointsOnly {
                    for (x, y) in zip(se.x, se.y) where y.isFinite {
                        s +=
                            "<circle cx=\"\(X(x))\" cy=\"\(Y(y))\" r=\"3\" fill=\"\(se.color)\" "
                            + "fill-opacity=\"0.8\"><title>\(fmt(x)): \(fmt(y))</title></circle>\n"
                    }
                    continue
                }
                let pts = zip(se.x, se.y).filter { $0.1.isFinite }.map { "\(X($0.0)),\(Y($0.1))" }.joined(
                    separator: " ")
                s +=
                    "<polyline fill=\"none\" stroke=\"\(se.color)\" "
                    + "stroke-width=\"1.6\"\(se.dashed ? " stroke-dasharray=\"5,3\"" : "") points=\"\(pts)\"/>\n"
            }
            // Legend: unique names only.
            var seen = Set<String>(); var ly = top + 12
            for se in series where !se.name.isEmpty && !seen.contains(se.name) {
                seen.insert(se.name)
                s +=
                    "<line x1=\"\(right - 190)\" y1=\"\(ly - 4)\" x2=\"\(right - 170)\" y2=\"\(ly - 4)\" "
                    + "stroke=\"\(se.color)\" stroke-width=\"2\"\(se.dashed ? " stroke-dasharray=\"5,3\"" : "")/>"
                s += "<text x=\"\(right - 166)\" y=\"\(ly)\" font-size=\"10\">\(esc(se.name))</text>\n"
                ly += 13
            }
        case .bars(let cats, let groups):
            let n = max(cats.count, 1), g = max(groups.count, 1)
            let slot = (right - left) / Double(n), bw = slot * 0.8 / Double(g)
            let base = Y(p.logY ? pow(10, ylo) : 0)
            for (ci, c) in cats.enumerated() {
                for (gi, grp) in groups.enumerated() where ci < grp.values.count && grp.values[ci].isFinite {
                    let x = left + Double(ci) * slot + slot * 0.1 + Double(gi) * bw
                    let y = Y(grp.values[ci])
                    s +=
                        "<rect x=\"\(x)\" y=\"\(min(y, base))\" width=\"\(bw)\" height=\"\(abs(base - y))\" "
                        + "fill=\"\(grp.color)\"><title>\(esc(grp.name)) \(esc(c)): "
                        + "\(fmt(grp.values[ci]))</title></rect>\n"
                }
                s +=
                    "<text x=\"\(left + (Double(ci) + 0.5) * slot)\" y=\"\(bottom + 14)\" text-anchor=\"middle\" "
                    + "font-size=\"10\">\(esc(c))</text>\n"
            }
            var ly = top + 12
            for grp in groups where groups.count > 1 {
                s +=
                    "<rect x=\"\(right - 120)\" y=\"\(ly - 9)\" width=\"10\" height=\"10\" "
                    + "fill=\"\(grp.color)\"/><text x=\"\(right - 106)\" y=\"\(ly)\" "
                    + "font-size=\"10\">\(esc(grp.name))</text>\n"
                ly += 13
            }
        case .heatmap: break
        }
        return s + "</g>\n"
    }

    /// Sequential color (light yellow → dark blue) for t ∈ [0, 1].
    static func heatColor(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [
            (255, 255, 204), (161, 218, 180), (65, 182, 196), (44, 127, 184), (37, 52, 148)
        ]
        let x = min(max(t, 0), 1) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let c = (0..<3).map { k -> Int in
            let a = [stops[i].0, stops[i].1, stops[i].2][k], b = [stops[i + 1].0, stops[i + 1].1, stops[i + 1].2][k]
            return Int((a + (b - a) * f).rounded())
        }
        return String(format: "#%02x%02x%02x", c[0], c[1], c[2])
    }

    static func heatmap(
        _ xl: [String], _ yl: [String], _ v: [[Double]], left: Double, right: Double, top: Double, bottom: Double
    ) -> String {
        var s = ""
        let finite = v.flatMap { $0 }.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let nx = max(xl.count, 1), ny = max(yl.count, 1)
        let cw = (right - left) / Double(nx), ch = (bottom - top) / Double(ny)
        for (yi, row) in v.enumerated() {
            for (xi, val) in row.enumerated() where val.isFinite {
                let t = hi > lo ? (val - lo) / (hi - lo) : 0.5
                let x = left + Double(xi) * cw, y = bottom - Double(yi + 1) * ch
                s +=
                    "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cw)\" height=\"\(ch)\" fill=\"\(heatColor(t))\" "
                    + "stroke=\"white\"><title>\(esc(xl[xi])), \(esc(yl[yi])): \(fmt(val))</title></rect>\n"
                s +=
                    "<text x=\"\(x + cw / 2)\" y=\"\(y + ch / 2 + 4)\" text-anchor=\"middle\" font-size=\"10\" "
                    + "fill=\"\(t > 0.6 ? "white" : "black")\">\(fmt(val))</text>\n"
            }
        }
        for (xi, l) in xl.enumerated() {
            s +=
                "<text x=\"\(left + (Double(xi) + 0.5) * cw)\" y=\"\(bottom + 14)\" text-anchor=\"middle\" "
                + "font-size=\"10\">\(esc(l))</text>\n"
        }
        for (yi, l) in yl.enumerated() {
            s +=
                "<text x=\"\(left - 4)\" y=\"\(bottom - (Double(yi) + 0.5) * ch + 4)\" text-anchor=\"end\" "
                + "font-size=\"10\">\(esc(l))</text>\n"
        }
        return s
    }
}
