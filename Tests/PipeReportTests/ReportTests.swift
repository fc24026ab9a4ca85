import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import PipeReport
@testable import PipeTraining

/// The report: well-formed XHTML whose every chart carries the data points of its inputs, axis
/// labels and legends; the side-by-side table; bad inputs refused with the file named.
struct ReportTests {
    /// The elements of a parsed document: name and attributes, and the text of each `text` element.
    final class Collector: NSObject, XMLParserDelegate {
        struct Element { var name: String; var attributes: [String: String]; var chart: Int? }
        var elements: [Element] = []
        var texts: [(chart: Int?, text: String)] = []
        private var chart: Int? = nil, charts = 0, inText = false

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "svg" {
                chart = charts
                charts += 1
            }
            inText = name == "text"
            if inText { texts.append((chart, "")) }
            elements.append(Element(name: name, attributes: attributes, chart: chart))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inText, !texts.isEmpty { texts[texts.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "svg" { chart = nil }
            if name == "text" { inText = false }
        }
    }

    static func parse(_ html: String) throws -> Collector {
        let parser = XMLParser(data: Data(html.utf8))
        let collector = Collector()
        parser.delegate = collector
        #expect(parser.parse(), "the report is well-formed: \(String(describing: parser.parserError))")
        return collector
    }

    static func evaluation(accuracy: Double, pgd: [Double], certified: [String: Double]?) -> EvaluationReport {
        let clean = EvaluationResult(count: 100, accuracy: accuracy, formatRate: 1, meanCompletionTokens: 30,
                                     byModality: ["CT": accuracy + 0.1, "OCT": accuracy - 0.1],
                                     byQuestionType: ["Modality Recognition": 0.9, "Lesion Grading": 0.3])
        let attacks = zip([1.0, 4.0], pgd).map {
            AttackResult(method: "pgd_linf", eps: $0 / 255, alpha: $0 / 1020, steps: 10, count: 50, accuracy: $1, formatRate: 1, drop: accuracy - $1)
        }
        let smoothing = certified.map {
            CertifiedResult(sigma: 0.25, n0: 16, n: 64, alpha: 0.001, predictN: 32,
                            certified: SmoothingSummary(sigma: 0.25, count: 50, certifiedAccuracy: $0, meanRadius: 0.1, abstainRate: 0.2),
                            smoothedAccuracy: accuracy - 0.05, smoothedAbstainRate: 0.1)
        }
        return EvaluationReport(split: "test", clean: clean,
                                grid: ["CT": ["Modality Recognition": 1, "Lesion Grading": 0.4], "OCT": ["Modality Recognition": 0.8]],
                                attacks: attacks, cues: ["misleading_hint": CueResult(accuracy: accuracy - 0.03, drop: 0.03)],
                                stepwise: StepwiseResult(chains: 10, fullyCorrect: 0.2, byStep: ["1": 0.9]), smoothing: smoothing)
    }

    static func sources() throws -> [ReportSource] {
        let grpoCurves = try CurveTable(csv: "step,reward_mean,accuracy,kl\n0,1.0,0.5,0\n1,1.5,0.75,0.01\n2,1.25,0.625,0.02\n", file: "c")
        let atCurves = try CurveTable(csv: "step,reward_mean,accuracy,kl,clean_reward,adv_reward\n0,1,0.5,0,1.2,0.8\n1,1.2,0.6,0.01,1.4,1.0\n", file: "c")
        let sftCurves = try CurveTable(csv: "step,epoch,loss\n0,0,3.5\n1,0,2.5\n", file: "c")
        let choice = SmoothingChoice(sigma: 0.25, n0: 16, n: 64, alpha: 0.001, criterion: "certified_accuracy_at: 0.25", split: "val", records: 30,
                                     candidates: [SmoothingSummary(sigma: 0.12, count: 30, certifiedAccuracy: ["0": 0.5, "0.25": 0], meanRadius: 0.05, abstainRate: 0.1),
                                                  SmoothingSummary(sigma: 0.25, count: 30, certifiedAccuracy: ["0": 0.45, "0.25": 0.3], meanRadius: 0.12, abstainRate: 0.1)],
                                     scores: [0, 0.3], finetuneEpochs: 0)
        return [ReportSource(label: "warmup", curves: sftCurves), ReportSource(label: "grpo", curves: grpoCurves),
                ReportSource(label: "at-grpo", curves: atCurves), ReportSource(label: "smooth", smoothing: choice),
                ReportSource(label: "eval-grpo", evaluation: evaluation(accuracy: 0.5, pgd: [0.45, 0.3], certified: ["0": 0.4, "0.25": 0.2])),
                ReportSource(label: "eval-at-grpo", evaluation: evaluation(accuracy: 0.52, pgd: [0.5, 0.42], certified: ["0": 0.42, "0.25": 0.3]))]
    }

    @Test func everyChartCarriesTheDataOfItsInputs() throws {
        let report = Report(title: "AT-GRPO <quick>", sources: try Self.sources())
        let document = try Self.parse(report.html)
        let charts = document.elements.filter { $0.name == "svg" }
        let titles = charts.compactMap { $0.attributes["data-title"] }
        #expect(titles.contains("Reward (format + accuracy, max 2) per step") && titles.contains("AT-GRPO reward on clean and PGD images")
                && titles.contains("SFT loss per step") && titles.contains("Accuracy under pgd_linf (test split)")
                && titles.contains("Certified accuracy (randomized smoothing)") && titles.contains("Clean accuracy by modality (test split)")
                && titles.contains("eval-grpo: accuracy by modality and question type"), "\(titles)")
        for (index, chart) in charts.enumerated() {
            let marks = document.elements.filter { $0.chart == index && ["circle", "rect"].contains($0.name) && $0.attributes["data-y"] != nil }
            #expect(!marks.isEmpty, "chart \(chart.attributes["data-title"] ?? "") has data points")
            // Axis labels and a legend or row labels.
            #expect(document.texts.filter { $0.chart == index }.count >= 3)
        }
        func points(_ title: String, series: String? = nil) -> [(String, String)] {
            guard let index = charts.firstIndex(where: { $0.attributes["data-title"] == title }) else { return [] }
            var current: String? = nil
            var result: [(String, String)] = []
            for element in document.elements where element.chart == index {
                if element.name == "g", let name = element.attributes["data-series"] { current = name }
                if let y = element.attributes["data-y"], series == nil || current == series {
                    result.append((element.attributes["data-x"] ?? element.attributes["data-column"] ?? "", y))
                }
            }
            return result
        }
        // Robust accuracy: eps 0 (clean), 1/255, 4/255.
        #expect(points("Accuracy under pgd_linf (test split)", series: "eval-at-grpo").map(\.1) == ["0.52", "0.5", "0.42"])
        #expect(points("Accuracy under pgd_linf (test split)", series: "eval-at-grpo").map(\.0) == ["0", "1", "4"])
        // Certified accuracy: each evaluation and each calibration candidate.
        #expect(points("Certified accuracy (randomized smoothing)", series: "eval-grpo (sigma 0.25)").map(\.1) == ["0.4", "0.2"])
        #expect(points("Certified accuracy (randomized smoothing)", series: "smooth: sigma 0.12, val").map(\.1) == ["0.5", "0"])
        // Bars per modality and the heatmap's cells.
        #expect(points("Clean accuracy by modality (test split)", series: "eval-grpo").map { $0.0 + "=" + $0.1 } == ["CT=0.6", "OCT=0.4"])
        #expect(points("eval-grpo: accuracy by modality and question type").count == 3)
        // Training curves: one point per step, averaged over the trailing window.
        #expect(points("Reward (format + accuracy, max 2) per step", series: "grpo").map(\.1) == ["1", "1.25", "1.25"])
        #expect(points("AT-GRPO reward on clean and PGD images").count == 4)
        // The title is escaped.
        #expect(report.html.contains("<h1>AT-GRPO &lt;quick&gt;</h1>"))
    }

    @Test func theSummaryTableSetsTheEvaluationsSideBySide() throws {
        let report = Report(title: "t", sources: try Self.sources())
        let table = report.summary
        #expect(table.header == ["model", "clean", "format", "clean (attacked records)", "pgd_linf 1/255", "pgd_linf 4/255", "smoothed (sigma)", "certified @0", "certified @0.25",
                                 "hint drop", "shuffle drop", "chains fully correct"])
        #expect(table.rows == [["eval-grpo", "0.500", "1.000", "0.500", "0.450", "0.300", "0.450 (0.25)", "0.400", "0.200", "0.030", "", "0.200"],
                               ["eval-at-grpo", "0.520", "1.000", "0.520", "0.500", "0.420", "0.470 (0.25)", "0.420", "0.300", "0.030", "", "0.200"]])
        let markdown = report.markdown
        #expect(markdown.contains("| eval-at-grpo | 0.520 |") && markdown.contains("| 0.25 (chosen) | 0.450 | 0.300 |")
                && markdown.contains("- Certified accuracy (randomized smoothing)"))
    }

    @Test func metricsAreFoundByPathIndexAndBreadthFirstName() throws {
        let report = Self.evaluation(accuracy: 0.5, pgd: [0.45, 0.3], certified: ["0": 0.4, "0.25": 0.2])
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(report))
        #expect(MetricLookup.value(in: json, path: "clean.accuracy") == 0.5)
        #expect(MetricLookup.value(in: json, path: "accuracy") == 0.5)
        #expect(MetricLookup.value(in: json, path: "certified_accuracy@0.25") == 0.2)
        #expect(MetricLookup.value(in: json, path: "certified_accuracy@0.250") == 0.2)
        #expect(MetricLookup.value(in: json, path: "clean.byModality@CT") == 0.6)
        #expect(MetricLookup.value(in: json, path: "smoothing.sigma") == 0.25)
        #expect(MetricLookup.value(in: json, path: "certified_accuracy@0.5") == nil)
        #expect(MetricLookup.value(in: json, path: "clean") == nil)
        #expect(MetricLookup.value(in: json, path: "nothing.here") == nil)
        #expect(MetricLookup.keys(in: json, path: "clean.byModality")?.first == "CT")
        #expect(MetricLookup.keys(in: json, path: "certified_accuracy") != nil && MetricLookup.keys(in: json, path: "smoothing.sigma") == nil)
        let table = Comparison(metrics: ["a", "b"], rows: [
            .init(name: "x", values: [[1, 3], [5]], seeds: 2), .init(name: "y", values: [[2, 2], []], seeds: 2),
            .init(name: "z", values: [[], []], seeds: 1, failure: "stage `t` failed"),
        ]).table
        #expect(table.rows == [["x", "2.0000 ± 1.4142 *", "5.0000 *", "2", ""], ["y", "2.0000 ± 0.0000 *", "n/a", "2", ""],
                               ["z", "failed", "failed", "1", "stage `t` failed"]])
    }

    @Test func theExperimentReportHasABarChartPerMetricAndOverlaidCurves() throws {
        let comparison = Comparison(metrics: ["eval.accuracy", "eval.loss"], rows: [
            .init(name: "cot", values: [[0.4, 0.6], [3, 5]], seeds: 2), .init(name: "instruct", values: [[0.3], [2]], seeds: 1),
            .init(name: "broken", values: [[], []], seeds: 1, failure: "stage `t` failed"),
        ])
        let curves = try CurveTable(csv: "step,reward_mean\n0,1\n1,2\n", file: "c")
        let report = ExperimentReport(title: "grid", comparison: comparison, curves: [("cot", "train", curves), ("instruct", "train", curves)])
        let document = try Self.parse(report.html)
        let bars = document.elements.filter { $0.name == "rect" && $0.attributes["data-y"] != nil }
        // One bar per working cell per metric, at its mean; the failed cell has none.
        #expect(bars.map { ($0.attributes["data-x"] ?? "") + "=" + ($0.attributes["data-y"] ?? "") } == ["cot=0.5", "instruct=0.3", "cot=4", "instruct=2"])
        let points = document.elements.filter { $0.name == "circle" }
        #expect(points.count == 4 && report.charts.count == 3)
        #expect(report.markdown.contains("| broken | failed | failed | 1 | stage `t` failed |") && report.markdown.contains("- train: reward"))
    }

    @Test func malformedInputsAreNamed() throws {
        #expect(throws: ReportError("c:3: `x` is not a number")) { try CurveTable(csv: "step,loss\n0,1\n1,x\n", file: "c") }
        // An empty cell is a step the column does not measure (`instruct` GRPO's rationale columns).
        let sparse = try CurveTable(csv: "step,loss,faithful\n0,1,\n1,2,0.5\n2,3,\n", file: "c")
        #expect(sparse.column("faithful")?.map(\.y) == [0.5] && sparse.column("loss")?.count == 3)
        #expect(try CurveTable(csv: "step,faithful\n0,\n", file: "c").column("faithful") == nil)
        #expect(throws: ReportError("c:2: 1 cells, the header has 2")) { try CurveTable(csv: "step,loss\n0\n", file: "c") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "{\"sigma\": 1}".write(toFile: directory + "/smoothing.json", atomically: true, encoding: .utf8)
        let error = try #require(throws: ReportError.self) { try ReportSource(label: "smooth", directory: directory) }
        #expect(error.description.hasPrefix("smooth/smoothing.json is not what the report expects"))
        try FileManager.default.removeItem(atPath: directory + "/smoothing.json")
        #expect(try ReportSource(label: "x", directory: directory).isEmpty)
    }
}
