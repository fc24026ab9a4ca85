import Foundation

/// The report of an ablation grid: the comparison table, one bar chart per metric (a bar per
/// variant: the mean over its seeds), a heatmap per metric family (`eval.byModality@*`: a row per
/// variant, a column per key) and, per training stage, the variants' curves overlaid.
public struct ExperimentReport: Sendable {
    public var title: String
    public var comparison: Comparison
    /// Training curves: the variant's name, the stage, its curves (one seed per variant).
    public var curves: [(variant: String, stage: String, table: CurveTable)]
    /// Metric families shown as heatmaps (`eval.byModality` for the columns `eval.byModality@KEY`).
    public var matrices: [String]

    public init(title: String, comparison: Comparison, curves: [(variant: String, stage: String, table: CurveTable)], matrices: [String] = []) {
        self.title = title
        self.comparison = comparison
        self.curves = curves
        self.matrices = matrices
    }

    /// The metric columns of a family: (column index, key).
    func columns(of family: String) -> [(index: Int, key: String)] {
        comparison.metrics.enumerated().compactMap { index, metric in
            metric.hasPrefix(family + "@") ? (index, String(metric.dropFirst(family.count + 1))) : nil
        }
    }

    public var charts: [Report.Chart] {
        var charts: [Report.Chart] = []
        let ok = comparison.rows.filter { $0.failure == nil }
        var inMatrix = Set<Int>()
        for family in matrices {
            let columns = self.columns(of: family)
            guard !columns.isEmpty, !ok.isEmpty else { continue }
            inMatrix.formUnion(columns.map(\.index))
            charts.append(Report.Chart(section: "Matrices", svg: Heatmap(
                title: "\(family) (mean over seeds)", xLabel: family.split(separator: ".").last.map(String.init) ?? family, yLabel: "variant",
                rows: ok.map(\.shortName), columns: columns.map(\.key),
                values: ok.map { row in columns.map { Comparison.mean(row.values[$0.index]) } }).svg))
        }
        for (column, metric) in comparison.metrics.enumerated() where !inMatrix.contains(column) {
            let means = ok.map { Comparison.mean($0.values[column]) }
            let values = means.compactMap { $0 }
            guard !values.isEmpty else { continue }
            let low = min(0, values.min() ?? 0), high = max(values.max() ?? 1, low + 1e-9)
            let range = (low >= 0 && high <= 1) ? 0.0...1.0 : low...(high * 1.05)
            charts.append(Report.Chart(section: "Metrics", svg: BarChart(
                title: "\(metric) (mean over seeds)", xLabel: "variant", yLabel: metric,
                categories: ok.map(\.shortName), series: [("mean over seeds", means)], yRange: range).svg))
        }
        let stages = curves.map(\.stage).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for stage in stages {
            let runs = curves.filter { $0.stage == stage }
            let column = runs.first?.table.header.contains("reward_mean") == true ? "reward_mean" : "loss"
            let series = runs.compactMap { run in
                run.table.column(column).map { Series(run.variant, column == "loss" ? $0 : Report.smoothed($0, window: Report.window)) }
            }
            guard !series.isEmpty else { continue }
            let name = column == "loss" ? "loss (cross-entropy, nats per token)" : "reward (max 2, \(Report.window)-step moving average)"
            charts.append(Report.Chart(section: "Training", svg: LineChart(title: "\(stage): \(name)", xLabel: "optimizer step",
                                                                           yLabel: column == "loss" ? "loss" : "reward", series: series,
                                                                           yRange: column == "loss" ? nil : 0...2).svg))
        }
        return charts
    }

    public var markdown: String {
        var lines = ["# \(title)", "", comparison.table.markdown,
                     "Mean ± sample standard deviation over each variant's seeds; `*` marks each column's best mean (highest)."]
        let titles = charts.compactMap { Report.attribute("data-title", in: $0.svg) }
        if !titles.isEmpty { lines += ["", "## Charts (in the HTML report)", ""] + titles.map { "- \($0)" } }
        return lines.joined(separator: "\n") + "\n"
    }

    public var html: String {
        let body = "<h1>\(SVG.escape(title))</h1>\n<h2>Comparison</h2>\n" + comparison.table.html
            + "<p class=\"note\">Mean ± sample standard deviation over each variant's seeds; * marks each column's best mean (highest).</p>\n"
        return Report.document(title: title, body: body + Report.figures(charts))
    }
}
