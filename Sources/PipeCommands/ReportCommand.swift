import ArgumentParser
import Foundation
import PipeEngine
import PipeRecipe
import PipeReport

/// `pipe report RUN`: a Markdown + HTML report of a recorded run's evaluation, smoothing and
/// training results and of every stage's `metrics.json` (each stage named by its stage name). `pipe report EXPERIMENT`: the report of
/// an ablation grid whose stages are all in the cache.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Write a Markdown + HTML report (with charts) of a run.")

    @OptionGroup var options: CacheOptions
    @Argument(help: "A run id, a tag, `latest`, or an experiment file.") var reference: String
    @Option(help: "The directory to write report.html and report.md to (default: reports/run-ID or reports/EXPERIMENT); must not exist.") var out: String?
    @Option(help: "The report's title (default: the recipe's name).") var title: String?

    func run() throws {
        let project = options.project
        var isDirectory: ObjCBool = false
        if reference.hasSuffix(".yaml") || reference.hasSuffix(".yml"),
           FileManager.default.fileExists(atPath: reference, isDirectory: &isDirectory), !isDirectory.boolValue {
            return try experimentReport(project)
        }
        guard let ledger = try project.existingLedger(), let run = try ledger.run(reference) else {
            throw UsageError("no run `\(reference)` in \(project.cacheRoot)", hint: "`pipe runs` lists the recorded runs")
        }
        let runId = run.id ?? 0
        let target = Project.absolute(out ?? "reports/run-\(runId)", from: FileManager.default.currentDirectoryPath)
        guard !FileManager.default.fileExists(atPath: target) else {
            throw UsageError("\(target) exists; choose another --out or remove it")
        }
        let cache = try project.openCache()
        var sources: [ReportSource] = []
        for entry in try ledger.stages(ofRun: runId) {
            guard let hex = entry.output, let digest = Digest(hex: hex) else { continue }
            do {
                let source = try ReportSource(label: entry.stage) { AblationRun.file($0, of: digest, cache: cache) }
                if !source.isEmpty { sources.append(source) }
            } catch let error as ReportError {
                throw UsageError("cannot report stage `\(entry.stage)`", cause: error)
            }
        }
        guard !sources.isEmpty else {
            throw UsageError("run \(runId) has no stage with metrics.json, curves.csv or smoothing.json to report\n"
                             + "  hint: `pipe show \(runId)` lists its stages; a `command` stage reports by writing $PIPE_OUT/metrics.json")
        }
        let report = Report(title: title ?? "\(run.recipeName): run \(runId)", sources: sources)
        try Self.write(html: report.html, markdown: report.markdown, to: target)
        let tables = report.printedTables
        if !tables.isEmpty { print(tables) }
        print("wrote \(target)/report.html and report.md (\(report.charts.count) charts)")
    }

    /// The report of an experiment whose every stage is cached (after `pipe ablate`).
    func experimentReport(_ project: Project) throws {
        let text = try InputFile.text(reference, what: "experiment", hint: "experiments live in experiments/")
        let experiment = try Experiment.parse(text, file: reference)
        let target = Project.absolute(out ?? "reports/\(experiment.name)", from: FileManager.default.currentDirectoryPath)
        guard !FileManager.default.fileExists(atPath: target) else {
            throw UsageError("\(target) exists; choose another --out or remove it")
        }
        let ablation = try Ablation(experiment: experiment, variants: try experiment.checkedVariants(), sets: [])
        let cache = try project.cacheForReading()
        var outputs: [String: Digest] = [:]
        for entry in Planner.plan(ablation.pipeline, cache: cache, previous: { _ in nil }) {
            if case .cached(_, let output) = entry.state { outputs[entry.job] = output }
        }
        let missing = ablation.pipeline.jobs.count - outputs.count
        guard missing == 0 else {
            throw UsageError("\(missing) of the grid's \(ablation.pipeline.jobs.count) stages are not in the cache", hint: "run `pipe ablate \(reference)` first")
        }
        var report = AblationRun(ablation: ablation, project: project, jobs: 1).report(outputs: outputs, failures: [:], cache: cache)
        if let title { report.title = title }
        try Self.write(html: report.html, markdown: report.markdown, to: target)
        print(report.comparison.table.markdown, terminator: "")
        print("wrote \(target)/report.html and report.md (\(report.charts.count) charts)")
    }

    /// Writes the two files into a new directory `target`: staged beside it and moved into place,
    /// so an interruption leaves nothing half-written.
    static func write(html: String, markdown: String, to target: String) throws {
        let parent = (target as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let staging = parent + "/.report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        do {
            try html.write(toFile: staging + "/report.html", atomically: false, encoding: .utf8)
            try markdown.write(toFile: staging + "/report.md", atomically: false, encoding: .utf8)
            try FileManager.default.moveItem(atPath: staging, toPath: target)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}

/// After a run: the side-by-side results table of each `report` stage (its `summary.md`).
enum ReportSummaries {
    static func print(_ results: [StageResult], cache: Cache) {
        for result in results where result.kind == "report" && (result.status == .ran || result.status == .cached) {
            guard let digest = result.output, let tree = try? Tree.load(digest, from: cache.objects),
                  let file = tree.entries.first(where: { $0.name == "summary.md" }),
                  let data = try? cache.objects.read(file.digest) else { continue }
            Swift.print("\n\(result.job): results (test split)\n" + String(decoding: data, as: UTF8.self), terminator: "")
        }
    }
}
