import ArgumentParser
import Foundation
import PipeEngine
import PipeRecipe
import PipeReport

/// `pipe ablate EXPERIMENT`: runs every variant of an ablation grid as one union graph (shared
/// stages once), then compares the variants' metrics.
struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ablate", abstract: "Run an ablation grid and compare its variants.")

    @Argument(help: "The experiment file (YAML), e.g. experiments/cot-vs-instruct.yaml.") var experiment: String
    @Option(name: .customLong("axis"), help: ArgumentHelp("Set a grid axis, e.g. params.reasoning=cot,instruct (repeatable; replaces the file's axis of that path).", valueName: "path=v1,v2"))
    var axes: [String] = []
    @Option(help: ArgumentHelp("Seeds to repeat every cell with, e.g. 1,2,3 (replaces the file's).", valueName: "s1,s2")) var seeds: String?
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a recipe value in every variant (repeatable).", valueName: "path=value"))
    var sets: [String] = []
    @Option(name: .short, help: "Independent stages to run at once.") var jobs: Int = 1
    @Option(help: "Where to write comparison.md/.csv/.json (default: ablations/NAME).") var out: String?
    @Flag(help: "Print the variants and the stages the grid needs; run nothing.") var dryRun = false
    @Option(help: "The cache directory (default: artifacts/ beside the nearest pipe.yaml, or $PIPE_CACHE).") var cache: String?
    @OptionGroup var executor: ExecutorOption

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("-j must be at least 1") }
    }

    func run() throws {
        let ablation = try Ablation.load(experimentFile: experiment, axes: axes, seeds: seeds, sets: sets)
        let parsed = ablation.experiment
        let stages = Set(ablation.base.recipe.stages.map(\.name))
        for metric in parsed.compare {
            let stage = String(metric.prefix { $0 != "." })
            guard stages.contains(stage) else {
                throw UsageError("\(experiment): compare `\(metric)`: no stage `\(stage)` in \(parsed.recipe)",
                                 hint: Suggestions.hint(for: stage, in: Array(stages).sorted()))
            }
        }
        let distinct = ablation.pipeline.jobs.count
        print("\(parsed.name): \(ablation.variants.count) variants, \(distinct) distinct stages (\(ablation.unsharedCount) without sharing)")
        if dryRun {
            for (index, variant) in ablation.variants.enumerated() { print("  variant \(index + 1): \(Ablation.describe(variant))") }
            return
        }
        let project = Project(cacheOption: cache)
        let execution = try executor.execution(project: project, source: .experiment(file: experiment, axes: axes, seeds: seeds, sets: sets))
        let text = FileManager.default.contents(atPath: experiment).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let outcome = try AblationRun(ablation: ablation, project: project, jobs: jobs, execution: execution,
                                      source: (experiment, text, axes, seeds, sets)).execute()
        let ran = outcome.results.filter { $0.status == .ran }.count
        print("grid: \(ran) stage executions ran, \(outcome.results.filter { $0.status == .cached }.count) cached, for \(ablation.unsharedCount) stage runs of \(ablation.variants.count) variants")
        let comparison = outcome.report.comparison
        print("\n" + comparison.table.markdown, terminator: "")
        let target = Project.absolute(out ?? "ablations/\(parsed.name)", from: FileManager.default.currentDirectoryPath)
        try AblationRun.write(outcome.report, to: target)
        print("wrote \(target)/comparison.md, .csv, .json, .html")
        if outcome.interrupted { throw ExitCode(130) }
        if comparison.rows.contains(where: { $0.failure != nil }) { throw ExitCode(1) }
    }
}

/// `--axis path=v1,v2` and `--seeds 1,2` applied to an experiment.
enum AxisOptions {
    static func apply(axes: [String], seeds: String?, to experiment: inout Experiment) throws {
        for text in axes {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw UsageError("--axis \(text): expected path=v1,v2", hint: "for example --axis params.reasoning=cot,instruct")
            }
            let path = String(text[..<equals])
            let label = text.count > 80 ? "--axis \(text.prefix(80))…" : "--axis \(text)"
            let list = try YAMLReader.read("[" + text[text.index(after: equals)...] + "]", file: label)
            guard case .list(let values) = list.content, !values.isEmpty else { throw UsageError("--axis \(text): no values") }
            let axis = Experiment.Axis(path: path, values: values, location: list.location)
            experiment.zip = experiment.zip.map { $0.filter { $0.path != path } }.filter { !$0.isEmpty }
            if let i = experiment.grid.firstIndex(where: { $0.path == path }) { experiment.grid[i] = axis } else { experiment.grid.append(axis) }
        }
        if let seeds {
            experiment.seeds = try seeds.split(separator: ",").map {
                guard let seed = Int($0.trimmingCharacters(in: .whitespaces)) else { throw UsageError("--seeds \(seeds): `\($0)` is not an integer") }
                return seed
            }
        }
    }
}
