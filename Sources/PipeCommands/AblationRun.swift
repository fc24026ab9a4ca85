import Foundation
import PipeEngine
import PipeRecipe
import PipeReport

/// Executes an ablation's union graph (recorded in the ledger as one run) and reads each variant's
/// metrics out of its stages' artifacts.
struct AblationRun {
    let ablation: Ablation
    let project: Project
    let jobs: Int
    var execution: StageExecution = .local
    /// The experiment's file and text with the command line's axes, seeds and sets, recorded so
    /// that `pipe audit` can rebuild the grid (nil: not recorded).
    var source: (file: String, text: String, axes: [String], seeds: String?, sets: [String])?

    struct Outcome {
        var results: [StageResult]
        var report: ExperimentReport
        var interrupted: Bool
    }

    func execute() throws -> Outcome {
        let runCache = try project.openRunCache()
        let cache = runCache.cache
        let ledger = try project.openLedger()
        var entry = Provenance.runEntry(for: ablation.base, tag: nil)
        if let source {
            // The texts, kept by digest, so that an audit finds them after edits.
            _ = try? cache.objects.write(Data(ablation.base.text.utf8))
            let digest = try cache.objects.write(Data(source.text.utf8))
            entry.source = ExperimentSource(experiment: Project.absolute(source.file, from: FileManager.default.currentDirectoryPath),
                                            digest: digest.hex, axes: source.axes, seeds: source.seeds, sets: source.sets).json
        }
        // Every variant runs as far as it can: a failure stops only what depends on it.
        let run = try RecordedRun.execute(ablation.pipeline, entry: entry,
                                          recipeName: ablation.base.recipe.name, cache: cache, ledger: ledger,
                                          options: RunOptions(jobs: jobs, keepGoing: true), previous: { _ in nil }, cacheRoot: project.cacheRoot,
                                          execution: execution)
        if let line = runCache.finish() { print(line) }
        let byJob = Dictionary(run.results.map { ($0.job, $0) }, uniquingKeysWith: { a, _ in a })
        let outputs = byJob.compactMapValues(\.output)
        var failures: [Int: String] = [:]
        for index in ablation.variants.indices { failures[index] = Self.failure(of: ablation.jobOf[index], in: byJob) }
        return Outcome(results: run.results, report: report(outputs: outputs, failures: failures, cache: cache), interrupted: run.interrupted)
    }

    /// The report from the grid's stage outputs (union job -> artifact) and its failed variants.
    func report(outputs: [String: Digest], failures: [Int: String], cache: Cache) -> ExperimentReport {
        var curves: [(variant: String, stage: String, table: CurveTable)] = []
        var seen = Set<String>()
        for (index, variant) in ablation.variants.enumerated() where failures[index] == nil {
            let name = variant.shortLabel.isEmpty ? "recipe" : variant.shortLabel
            guard seen.insert(name).inserted else { continue }   // one seed per cell
            for stage in ablation.base.recipe.stages.map(\.name) {
                guard let digest = ablation.jobOf[index][stage].flatMap({ outputs[$0] }),
                      let data = Self.file("curves.csv", of: digest, cache: cache),
                      let table = try? CurveTable(csv: String(decoding: data, as: UTF8.self), file: stage) else { continue }
                curves.append((name, stage, table))
            }
        }
        let matrices = ablation.experiment.compare.filter { $0.hasSuffix("@*") }.map { String($0.dropLast(2)) }
        return ExperimentReport(title: "\(ablation.experiment.name): \(ablation.variants.count) variants of \(ablation.base.recipe.name)",
                                comparison: comparison(outputs: outputs, failures: failures, cache: cache), curves: curves, matrices: matrices)
    }

    /// The compared metrics with each `stage.name@*` replaced by one metric per key (or index) found
    /// under `name` in any variant's output, keys in sorted order.
    func expandedMetrics(outputs: [String: Digest], failures: [Int: String], cache: Cache) -> [String] {
        ablation.experiment.compare.flatMap { metric -> [String] in
            guard metric.hasSuffix("@*") else { return [metric] }
            let family = String(metric.dropLast(2))
            let stage = String(family.prefix { $0 != "." }), path = String(family.drop { $0 != "." }.dropFirst())
            var keys = Set<String>()
            for index in ablation.variants.indices where failures[index] == nil {
                guard let digest = ablation.jobOf[index][stage].flatMap({ outputs[$0] }), let json = Self.metricsJSON(digest, cache: cache) else { continue }
                keys.formUnion(MetricLookup.keys(in: json, path: path) ?? [])
            }
            let sorted = keys.sorted { a, b in
                if let x = Double(a), let y = Double(b) { return x < y }
                return a < b
            }
            return sorted.isEmpty ? [metric] : sorted.map { family + "@" + $0 }
        }
    }

    /// One row per grid cell (variants that differ only in seed), metrics over its seeds.
    func comparison(outputs: [String: Digest], failures: [Int: String], cache: Cache) -> Comparison {
        let metrics = expandedMetrics(outputs: outputs, failures: failures, cache: cache)
        var order: [String] = []
        var cells: [String: (values: [[Double]], seeds: Int, failure: String?, short: String)] = [:]
        var warned = Set<String>()
        for (index, variant) in ablation.variants.enumerated() {
            let name = variant.label.isEmpty ? "recipe" : variant.label
            if cells[name] == nil {
                order.append(name)
                cells[name] = (metrics.map { _ in [] }, 0, nil, variant.shortLabel.isEmpty ? name : variant.shortLabel)
            }
            cells[name]?.seeds += 1
            let jobOf = ablation.jobOf[index]
            if let failure = failures[index] {
                let earlier = cells[name]?.failure
                cells[name]?.failure = earlier ?? (variant.seed.map { "seed \($0): " } ?? "") + failure
                continue
            }
            for (column, metric) in metrics.enumerated() {
                let stage = String(metric.prefix { $0 != "." }), path = String(metric.drop { $0 != "." }.dropFirst())
                guard let digest = jobOf[stage].flatMap({ outputs[$0] }), let json = Self.metricsJSON(digest, cache: cache),
                      let value = MetricLookup.value(in: json, path: path) else {
                    if warned.insert(metric).inserted { Terminal.error("warning: no metric `\(path)` in stage `\(stage)`'s metrics.json") }
                    continue
                }
                cells[name]?.values[column].append(value)
            }
        }
        return Comparison(metrics: metrics, rows: order.map { name in
            let cell = cells[name]!
            return Comparison.Row(name: name, values: cell.values, seeds: cell.seeds, failure: cell.failure, shortName: cell.short)
        })
    }

    /// Why a variant has no results: its first failed stage and message, or a stage not run.
    static func failure(of jobOf: [String: String], in results: [String: StageResult]) -> String? {
        let mine: [(stage: String, result: StageResult)] = jobOf.keys.sorted().compactMap { stage in
            results[jobOf[stage] ?? ""].map { (stage, $0) }
        }
        if let failed = mine.first(where: { $0.result.status == .failed }) {
            let last = failed.result.logTail.last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
            return "stage `\(failed.stage)` failed" + (failed.result.message.map { ": \($0)" } ?? "") + (last.map { " (\($0))" } ?? "")
        }
        if let skipped = mine.first(where: { $0.result.status != .ran && $0.result.status != .cached }) {
            return "stage `\(skipped.stage)` did not run (\(skipped.result.status.rawValue))"
        }
        return nil
    }

    /// A stage's `metrics.json` (or a smooth stage's `smoothing.json`), parsed.
    static func metricsJSON(_ digest: Digest, cache: Cache) -> Any? {
        guard let data = file("metrics.json", of: digest, cache: cache) ?? file("smoothing.json", of: digest, cache: cache) else { return nil }
        return try? JSONSerialization.jsonObject(with: data)
    }

    /// The bytes of a top-level file of an artifact, nil when it has none.
    static func file(_ name: String, of digest: Digest, cache: Cache) -> Data? {
        guard let tree = try? Tree.load(digest, from: cache.objects), let entry = tree.entries.first(where: { $0.name == name }) else { return nil }
        return try? cache.objects.read(entry.digest)
    }

    /// Writes comparison.md, .csv, .json and .html into `directory`, replacing it whole (written beside it first).
    static func write(_ report: ExperimentReport, to directory: String) throws {
        let comparison = report.comparison
        let manager = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let staging = parent + "/.comparison-\(UUID().uuidString)"
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: false)
        do {
            try comparison.table.markdown.write(toFile: staging + "/comparison.md", atomically: false, encoding: .utf8)
            try comparison.csv.write(toFile: staging + "/comparison.csv", atomically: false, encoding: .utf8)
            try comparison.json.write(to: URL(fileURLWithPath: staging + "/comparison.json"))
            try report.html.write(toFile: staging + "/comparison.html", atomically: false, encoding: .utf8)
            if manager.fileExists(atPath: directory) { try manager.removeItem(atPath: directory) }
            try manager.moveItem(atPath: staging, toPath: directory)
        } catch {
            try? manager.removeItem(atPath: staging)
            throw error
        }
    }
}
