import Foundation
import PipeEngine
import PipeRecipe
import PipeReport

/// `kind: report`: renders its inputs (any roles; each an evaluate, smooth or training stage, the
/// role naming it in tables and legends) as `report.html` (one self-contained file, inline SVG
/// charts) and `report.md`, plus `summary.md`, the side-by-side results table `pipe run` prints.
public struct ReportKind: StageKind {
    public let name = "report"
    public let version = 2

    public init() {}

    public let summary = "Markdown + HTML report with charts of its inputs, side by side"

    public let inputs = [KindInput("ROLE", "any number of evaluate, smooth or training stages, each role naming its column and legend", required: false)]

    public let outputs = [
        KindOutput("report.html", "one self-contained page with inline SVG charts"),
        KindOutput("report.md", "the same in Markdown"),
        KindOutput("summary.md", "the side-by-side results table `pipe run` prints"),
    ]

    static let title = OptionKey<String>("title", default: "", help: "the report's title (default: the recipe's name)")

    public var schema: OptionSchema? { OptionSchema(keys: [Self.title]) }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        guard !stage.stage.inputs.isEmpty else {
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name)",
                              "a report stage needs inputs to show, e.g. `inputs: {grpo: eval-grpo, at-grpo: eval-at-grpo}` (evaluate, smooth or training stages)")
        }
        let title = try stage.values[Self.title]
        return ReportAction(title: title.isEmpty ? "\(stage.recipeName): results" : title, roles: stage.stage.inputs.map(\.role))
    }
}

struct ReportAction: JobAction {
    var title: String
    /// The input roles in the order the recipe lists them.
    var roles: [String]

    func run(_ context: JobContext) throws {
        let sources: [ReportSource]
        do {
            sources = try roles.map { try ReportSource(label: $0, directory: context.inputDirectories[$0] ?? "") }
        } catch let error as ReportError {
            throw JobFailure(error.description)
        }
        if let empty = sources.first(where: \.isEmpty) {
            throw JobFailure("input `\(empty.label)` has no metrics.json, smoothing.json or curves.csv to report; give evaluate, smooth or training stages, or a command stage that writes metrics.json")
        }
        let report = Report(title: title, sources: sources)
        let out = context.outputDirectory
        try report.html.write(toFile: out + "/report.html", atomically: false, encoding: .utf8)
        try report.markdown.write(toFile: out + "/report.md", atomically: false, encoding: .utf8)
        try report.summary.markdown.write(toFile: out + "/summary.md", atomically: false, encoding: .utf8)
        context.log(report.summary.markdown)
    }
}
