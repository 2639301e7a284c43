import EqProp
import Foundation
import Yams

extension SweepExecutor {
    // MARK: Report

    /// One point of the sweep report: its field values and per-metric statistics over seeds.
    public struct Row: Sendable {
        /// Values at the point of the report's fields (grid axes, then random ranges).
        public var values: [String]
        /// Number of finished seeds at the point.
        public var seeds: Int
        /// Number of those seeds whose run diverged (their metrics are left out of the statistics).
        public var diverged: Int = 0
        /// Mean and sample standard deviation over the seeds with a finite value, per metric (std 0 for one).
        public var mean: [String: Double], std: [String: Double]
    }

    /// Keys recorded more than once in a folder's results (the report keeps the first copy), and the
    /// number of lines that do not parse as a record.
    public static func anomalies(_ dir: String) -> (duplicates: [String], unreadable: Int) {
        let path = (dir as NSString).appendingPathComponent(resultsName)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return ([], 0) }
        let lines = text.split(separator: "\n")
        let recs = records(dir)
        var seen = Set<String>(), dups: [String] = []
        for r in recs where !seen.insert(r.key).inserted { dups.append(r.key) }
        return (dups, lines.count - recs.count)
    }

    /// Mean and sample standard deviation over seeds, per point, for every metric.
    public static func table(_ dir: String) throws -> (fields: [String], metrics: [String], rows: [Row]) {
        let plan = try loadPlan(dir)
        // A run recorded twice (shards joined by hand) counts once: the first copy, as `merge` keeps.
        var seen = Set<String>()
        let recs = records(dir).filter { seen.insert($0.key).inserted }
        guard !recs.isEmpty else { throw InputError("sweep report: '\(dir)' has no finished runs yet") }
        let fields = plan.vary.map(\.field) + (plan.random > 0 ? plan.ranges.map(\.field) : [])
        let metrics = Array(Set(recs.flatMap { $0.metrics.keys })).sorted()
        var order: [String] = []
        var groups: [String: [SweepRecord]] = [:]
        for r in recs.sorted(by: { $0.index < $1.index }) {
            let k = fields.map { r.point[$0] ?? "" }.joined(separator: "\u{1F}")
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(r)
        }
        let rows: [Row] = order.map { k in
            let g = groups[k]!
            var mean: [String: Double] = [:], std: [String: Double] = [:]
            for m in metrics {
                let v = g.compactMap { $0.metrics[m] }.filter(\.isFinite)
                guard !v.isEmpty else { continue }
                let mu = v.reduce(0, +) / Double(v.count)
                mean[m] = mu
                std[m] =
                    v.count > 1 ? (v.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(v.count - 1)).squareRoot() : 0
            }
            return Row(
                values: fields.map { g[0].point[$0] ?? "" }, seeds: g.count,
                diverged: g.filter { $0.status == .diverged }.count,
                mean: mean, std: std)
        }
        return (fields, metrics, rows)
    }

    /// Writes `DIR/report.csv` and, for one varied field, `DIR/report.svg` with a line plot per
    /// metric (mean ± std over seeds); for two, a heatmap per metric. Returns the files written.
    @discardableResult
    public static func report(_ dir: String, metrics wanted: [String]? = nil) throws -> [String] {
        let (fields, metrics, rows) = try table(dir)
        var csv =
            (fields + ["seeds", "diverged"] + metrics.flatMap { ["\($0)_mean", "\($0)_std"] }).joined(separator: ",")
            + "\n"
        for r in rows {
            let cells =
                r.values.map { $0.contains(",") ? "\"\($0)\"" : $0 } + [String(r.seeds), String(r.diverged)]
                + metrics.flatMap { m in [r.mean[m].map { String($0) } ?? "", r.std[m].map { String($0) } ?? ""] }
            csv += cells.joined(separator: ",") + "\n"
        }
        let csvPath = (dir as NSString).appendingPathComponent("report.csv")
        try AtomicFile.write(csv, to: csvPath)
        var written = [csvPath]
        let shown = (wanted ?? ["test_error", "cosine", "sign_agreement"]).filter { metrics.contains($0) }
        for m in wanted ?? [] where !metrics.contains(m) {
            throw InputError("sweep report: no metric '\(m)' in the results (have: \(metrics.joined(separator: ", ")))")
        }
        guard !shown.isEmpty else { return written }
        let plan = try loadPlan(dir)
        let title = "\(plan.model)\(plan.device.map { " on " + $0 } ?? ""): \(fields.joined(separator: " × "))"
        var panels: [SVGChart.Panel] = []
        if plan.random > 0 {
            // Random search: each metric against each drawn field, one point per draw (not a grid).
            for (i, m) in shown.enumerated() {
                for (fi, f) in fields.enumerated() {
                    let pts = rows.compactMap { r -> (Double, Double)? in
                        guard let x = Double(r.values[fi]), let y = r.mean[m] else { return nil }
                        return (x, y)
                    }.sorted { $0.0 < $1.0 }
                    guard !pts.isEmpty else { continue }
                    let logX = pts.first!.0 > 0 && pts.last!.0 / pts.first!.0 >= 20
                    panels.append(
                        SVGChart.Panel(
                            title: "\(m) vs \(f)", xLabel: f, yLabel: m,
                            content: .lines([
                                SVGChart.Series(
                                    name: "", x: pts.map(\.0), y: pts.map(\.1), color: SVGChart.palette[i],
                                    pointsOnly: true)
                            ]),
                            logX: logX))
                }
            }
        } else if fields.count == 1 {
            let xs = rows.map { Double($0.values[0]) }
            let numeric = xs.allSatisfy { $0 != nil }
            let order = rows.indices.sorted { numeric ? xs[$0]! < xs[$1]! : $0 < $1 }
            let x = order.map { numeric ? xs[$0]! : Double($0) }
            let logX = numeric && (x.first ?? 0) > 0 && (x.last ?? 0) / (x.first ?? 1) >= 20
            for (i, m) in shown.enumerated() {
                let mu = order.map { rows[$0].mean[m] ?? .nan }, sd = order.map { rows[$0].std[m] ?? .nan }
                panels.append(
                    SVGChart.Panel(
                        title: "\(m) (mean ± std over seeds)", xLabel: fields[0], yLabel: m,
                        content: .lines([SVGChart.Series(name: m, x: x, y: mu, color: SVGChart.palette[i], spread: sd)]
                        ),
                        logX: logX))
            }
        } else if fields.count == 2 {
            let xv = uniqueInOrder(rows.map { $0.values[0] }), yv = uniqueInOrder(rows.map { $0.values[1] })
            for m in shown {
                var grid = [[Double]](repeating: [Double](repeating: .nan, count: xv.count), count: yv.count)
                for r in rows {
                    if let xi = xv.firstIndex(of: r.values[0]), let yi = yv.firstIndex(of: r.values[1]) {
                        grid[yi][xi] = r.mean[m] ?? .nan
                    }
                }
                panels.append(
                    SVGChart.Panel(
                        title: "\(m) (mean over seeds)", xLabel: fields[0], yLabel: fields[1],
                        content: .heatmap(xLabels: xv, yLabels: yv, values: grid)))
            }
        } else {
            return written
        }
        let svgPath = (dir as NSString).appendingPathComponent("report.svg")
        try AtomicFile.write(
            SVGChart.render(
                title: title, panels: panels, columns: min(panels.count, 2), panelWidth: 440, panelHeight: 320),
            to: svgPath)
        written.append(svgPath)
        return written
    }

    static func uniqueInOrder(_ v: [String]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        let numeric = v.allSatisfy { Double($0) != nil }
        for s in v where !seen.contains(s) { seen.insert(s); out.append(s) }
        return numeric ? out.sorted { Double($0)! < Double($1)! } : out
    }
}
