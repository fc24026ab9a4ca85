import Foundation
import PipeTraining

/// A report over a set of inputs: the side-by-side table of the evaluations and the charts
/// (training curves, robust accuracy against eps, certified accuracy against radius, accuracy by
/// modality, the modality x question-type heatmaps), as Markdown and as one self-contained HTML file.
public struct Report: Sendable {
    public var title: String
    public var sources: [ReportSource]

    public init(title: String, sources: [ReportSource]) {
        self.title = title
        self.sources = sources
    }

    /// A chart with the section it belongs to.
    public struct Chart: Sendable {
        public var section: String
        public var svg: String
    }

    var evaluations: [(label: String, report: EvaluationReport)] { sources.compactMap { s in s.evaluation.map { (s.label, $0) } } }

    /// Steps averaged in the training curves (GRPO's per-step rewards are noisy).
    static let window = 10

    /// The trailing moving average of `points` over `window` steps.
    static func smoothed(_ points: [(x: Double, y: Double)], window: Int) -> [(x: Double, y: Double)] {
        var sum = 0.0
        return points.enumerated().map { index, point in
            sum += point.y
            if index >= window { sum -= points[index - window].y }
            return (x: point.x, y: sum / Double(min(index + 1, window)))
        }
    }

    /// Every chart, in the order the report shows them.
    public var charts: [Chart] {
        var charts: [Chart] = []
        let trained = sources.compactMap { s in s.curves.map { (s.label, $0) } }
        let average = "\(Self.window)-step moving average"
        for (column, name, range) in [("reward_mean", "Reward (format + accuracy, max 2)", 0.0...2.0), ("accuracy", "Rollout accuracy", 0.0...1.0),
                                      ("kl", "KL to the reference policy (k3)", nil as ClosedRange<Double>?)] {
            let series = trained.compactMap { label, curves in curves.column(column).map { Series(label, Self.smoothed($0, window: Self.window)) } }
            if !series.isEmpty {
                charts.append(Chart(section: "Training", svg: LineChart(title: "\(name) per step", xLabel: "optimizer step (\(average))",
                                                                        yLabel: name, series: series, yRange: range).svg))
            }
        }
        let adversarial = trained.flatMap { label, curves -> [Series] in
            guard let clean = curves.column("clean_reward"), let adv = curves.column("adv_reward") else { return [] }
            return [Series("\(label) clean", Self.smoothed(clean, window: Self.window)),
                    Series("\(label) adversarial", Self.smoothed(adv, window: Self.window), dashed: true)]
        }
        if !adversarial.isEmpty {
            charts.append(Chart(section: "Training", svg: LineChart(title: "AT-GRPO reward on clean and PGD images", xLabel: "optimizer step (\(average))",
                                                                    yLabel: "reward (max 2)", series: adversarial, yRange: 0...2).svg))
        }
        let losses = trained.compactMap { label, curves in curves.header.contains("reward_mean") ? nil : curves.column("loss").map { Series(label, $0) } }
        if !losses.isEmpty {
            charts.append(Chart(section: "Training", svg: LineChart(title: "SFT loss per step", xLabel: "optimizer step",
                                                                    yLabel: "cross-entropy (nats per token)", series: losses).svg))
        }
        let evaluations = self.evaluations
        for method in Array(Set(evaluations.flatMap { $0.report.attacks.map(\.method) })).sorted() {
            let series = evaluations.map { label, report in
                Series(label, [(x: 0, y: report.attacks.first(where: { $0.method == method }).map { $0.accuracy + $0.drop } ?? report.clean.accuracy)]
                    + report.attacks.filter { $0.method == method }.sorted { $0.eps < $1.eps }.map { (x: $0.eps * (method == "pgd_l2" ? 1 : 255), y: $0.accuracy) })
            }
            let unit = method == "pgd_l2" ? "L2 eps on [0, 1] pixels" : "eps (x 1/255 on [0, 1] pixels)"
            charts.append(Chart(section: "Robustness", svg: LineChart(title: "Accuracy under \(method) (test split)", xLabel: unit,
                                                                      yLabel: "accuracy", series: series, yRange: 0...1).svg))
        }
        var certified = evaluations.compactMap { label, report in
            report.smoothing.map { Series("\(label) (sigma \(SVG.number($0.sigma)))", Self.points($0.certified)) }
        }
        for source in sources {
            guard let smoothing = source.smoothing else { continue }
            certified += smoothing.candidates.map { Series("\(source.label): sigma \(SVG.number($0.sigma)), \(smoothing.split)", Self.points($0), dashed: true) }
        }
        if !certified.isEmpty {
            charts.append(Chart(section: "Robustness", svg: LineChart(title: "Certified accuracy (randomized smoothing)",
                                                                      xLabel: "L2 radius on [0, 1] pixels", yLabel: "certified accuracy",
                                                                      series: certified, yRange: 0...1).svg))
        }
        if !evaluations.isEmpty {
            let modalities = Array(Set(evaluations.flatMap { $0.report.clean.byModality.keys })).sorted()
            charts.append(Chart(section: "Accuracy", svg: BarChart(title: "Clean accuracy by modality (test split)", xLabel: "modality",
                                                                   yLabel: "accuracy", categories: modalities,
                                                                   series: evaluations.map { e in (e.label, modalities.map { e.report.clean.byModality[$0] }) }).svg))
            let types = Array(Set(evaluations.flatMap { $0.report.clean.byQuestionType.keys })).sorted()
            charts.append(Chart(section: "Accuracy", svg: BarChart(title: "Clean accuracy by question type (test split)", xLabel: "question type",
                                                                   yLabel: "accuracy", categories: types,
                                                                   series: evaluations.map { e in (e.label, types.map { e.report.clean.byQuestionType[$0] }) }).svg))
            for (label, report) in evaluations {
                let rows = report.grid.keys.sorted(), columns = Array(Set(report.grid.values.flatMap(\.keys))).sorted()
                charts.append(Chart(section: "Accuracy", svg: Heatmap(title: "\(label): accuracy by modality and question type", xLabel: "question type",
                                                                      yLabel: "modality", rows: rows, columns: columns,
                                                                      values: rows.map { r in columns.map { report.grid[r]?[$0] } }).svg))
            }
        }
        return charts
    }

    static func points(_ summary: SmoothingSummary) -> [(x: Double, y: Double)] {
        summary.certifiedAccuracy.compactMap { key, value in Double(key).map { (x: $0, y: value) } }.sorted { $0.x < $1.x }
    }
}
