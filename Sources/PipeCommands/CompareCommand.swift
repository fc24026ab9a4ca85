import ArgumentParser
import Foundation
import PipeData
import PipeEngine
import PipeReport

/// `pipe compare RUN RUN...`: the runs' stage metrics side by side with their differences.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare", abstract: "Show the metrics of runs side by side, with differences from the first.")

    @OptionGroup var options: CacheOptions
    @Argument(help: "Two or more runs: ids, tags, or `latest`.") var references: [String]
    @Flag(help: "Only the metrics whose values differ.") var changed = false
    @Option(help: "Only the metrics whose name contains this text, e.g. eval-grpo.clean.") var metric: String?
    @Option(help: "md (default) or csv.") var format: String = "md"

    func validate() throws {
        guard references.count >= 2 else { throw ValidationError("give at least two runs to compare") }
        guard ["md", "csv"].contains(format) else { throw ValidationError("--format must be md or csv") }
    }

    func run() throws {
        let project = options.project
        guard let ledger = try project.existingLedger() else {
            throw UsageError("no runs recorded in \(project.cacheRoot)", hint: "`pipe run RECIPE` records one")
        }
        let cache = try project.openCache()
        var runs: [(label: String, metrics: [String: Double])] = []
        for reference in references {
            guard let run = try ledger.run(reference), let id = run.id else {
                throw UsageError("no run `\(reference)` in \(project.cacheRoot)", hint: "`pipe runs` lists the recorded runs")
            }
            var metrics: [String: Double] = [:]
            for entry in try ledger.stages(ofRun: id) {
                guard let hex = entry.output, let digest = Digest(hex: hex), let json = AblationRun.metricsJSON(digest, cache: cache) else { continue }
                metrics.merge(RunComparison.flatten(json, prefix: entry.stage)) { a, _ in a }
            }
            runs.append(("run \(id)", metrics))
        }
        guard runs.contains(where: { !$0.metrics.isEmpty }) else {
            print("no metrics in these runs' stages (no stage wrote metrics.json)")
            return
        }
        let table = RunComparison(runs: runs).table(changedOnly: changed, matching: metric)
        guard !table.rows.isEmpty else {
            print(metric.map { "no metric matches `\($0)`" + (changed ? " and differs" : "") } ?? "no metric differs")
            return
        }
        if format == "csv" {
            print(([table.header] + table.rows).map { $0.map(CSV.field).joined(separator: ",") }.joined(separator: "\n"))
        } else {
            print(table.markdown, terminator: "")
        }
    }
}
