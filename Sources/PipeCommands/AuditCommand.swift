import ArgumentParser
import Foundation
import PipeEngine
import PipeLedger
import PipeRecipe

/// `pipe audit RUN`: verifies a run's provenance chain and re-executes chosen stages in a scratch
/// cache from their recorded inputs, comparing the outputs digest by digest; `--export RUN DIR`
/// writes the run as a bundle, `--bundle DIR` audits a bundle against this cache.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit",
                                                    abstract: "Re-execute a run's stages and check they reproduce bit for bit.")

    @OptionGroup var options: CacheOptions
    @Argument(help: "RUN (an id, a tag or `latest`); with --export, RUN DIR.") var arguments: [String] = []
    @Option(help: "Re-execute this stage (repeatable).") var stage: [String] = []
    @Flag(help: "Re-execute every stage of the run.") var all = false
    @Flag(help: "Write RUN as a self-contained bundle in DIR instead of auditing it.") var export = false
    @Option(help: "Audit the run a bundle (from --export) describes, against this cache.") var bundle: String?

    func run() throws {
        let project = options.project
        let runCache = try project.openRunCache()
        let run: RunEntry, stages: [StageEntry]
        var recipeFile: String?
        let workspace = runCache.cache.temporaryDirectory + "/audit-workspace-\(UUID().uuidString.prefix(8))"
        defer { FileSystem.removeTree(workspace) }
        if let bundle {
            guard arguments.isEmpty, !export else { throw UsageError("--bundle DIR takes no RUN (the bundle names it) and no --export") }
            let directory = Project.absolute(bundle, from: FileManager.default.currentDirectoryPath)
            let contents = try AuditBundle.load(directory, cache: runCache.cache)
            (run, stages) = (contents.run, contents.stages)
            if ExperimentSource.decode(run.source) == nil, let text = FileManager.default.contents(atPath: directory + "/recipe.yaml") {
                recipeFile = try AuditBundleFiles.workspace(from: directory, recipeFile: run.recipeFile, recipeText: text, in: workspace, cache: runCache.cache)
            }
        } else {
            guard arguments.count == (export ? 2 : 1) else {
                throw UsageError(export ? "usage: pipe audit --export RUN DIR" : "usage: pipe audit RUN [--stage S]... [--all] (or --export RUN DIR, --bundle DIR)")
            }
            let reference = arguments[0]
            guard let ledger = try project.existingLedger(), let found = try ledger.run(reference) else {
                throw UsageError("no run `\(reference)` in \(project.cacheRoot)", hint: "`pipe runs` lists the recorded runs")
            }
            (run, stages) = (found, try ledger.stages(ofRun: found.id!))
        }
        var audit = try Audit.load(run: run, stages: stages, cache: runCache.cache, recipeFile: recipeFile)
        audit.fromBundle = bundle != nil
        if export {
            let directory = Project.absolute(arguments[1], from: FileManager.default.currentDirectoryPath)
            let written = try AuditBundle.export(audit, stages: stages, text: audit.recipeText, to: directory)
            print("wrote \(directory): bundle.json, recipe.yaml, \(audit.experiment == nil ? "" : "experiment.yaml, ")outputs/ (\(written.stages) stages)"
                  + (written.metrics > 0 ? ", metrics/ (\(written.metrics) stages)" : "")
                  + (written.dependencies > 0 ? ", \(written.dependencies) deps files in objects/" : "") + "\n"
                  + "  check it with: pipe audit --bundle \(arguments[1]) [--stage S]... [--all] (stages re-execute in order from the bundle alone;"
                  + " a cache or remote with the run's results lets any stage re-execute on its own)")
            return
        }
        let names = audit.pipeline.jobs.map(\.name)
        for name in stage where !names.contains(name) {
            throw UsageError("--stage \(name): run \(run.id!) has no stage `\(name)` (stages: \(names.joined(separator: ", ")))",
                             hint: Suggestions.hint(for: name, in: names))
        }
        print("audit of run \(run.id!) (\(run.recipeName), \(audit.experiment.map { "experiment \($0.experiment) over " } ?? "")\(run.recipeFile)), started \(Show.timestamp(run.started)) on \(run.host)")
        let chain = audit.verifyChain()
        if chain.problems.isEmpty {
            print("provenance: ok (\(names.count) stages: inputs match upstream outputs, records present, \(chain.objects) objects hash to their names, recipe digest matches)")
        } else {
            print("provenance: \(chain.problems.count) problems")
            for problem in chain.problems { print("  - \(problem)") }
        }
        var differences = Provenance.differences(machine: run.machine, host: run.host,
                                                 environment: Dictionary(Show.environment(run.environment), uniquingKeysWith: { a, _ in a }))
        if run.pipeVersion != PipeVersion.current { differences.append("pipe: recorded \(run.pipeVersion); now \(PipeVersion.current)") }
        print(differences.isEmpty ? "auditing machine: the same as the run's (host, OS, CPU and its features, cores, Swift, OpenBLAS build, core type and threads, training threads, pipe version)"
              : "auditing machine differs from the run's:\n" + differences.map { "  - \($0)" }.joined(separator: "\n"))
        let chosen = all ? names : names.filter(stage.contains)
        if chosen.isEmpty {
            let rows = names.map { name in [name, audit.recorded[name].map { String(format: "%.1f s", $0.seconds) } ?? "-"] }
            print("no stage re-executed (choose with --stage NAME, repeatable, or --all):\n" + Terminal.table(["stage", "recorded time"], rows))
            if !chain.problems.isEmpty { throw ExitCode(1) }
            return
        }
        var reproduced = 0
        for name in chosen {
            // A stage executed on a cluster node is compared with that node.
            if let entry = audit.recorded[name], !entry.environment.isEmpty {
                var node = Dictionary(Show.environment(entry.environment), uniquingKeysWith: { a, _ in a })
                let nodeMachine = node.removeValue(forKey: "machine") ?? "unknown"
                let nodeDifferences = Provenance.differences(machine: nodeMachine, host: entry.host, environment: node)
                print(nodeDifferences.isEmpty ? "\(name) ran on \(entry.host), the same as the auditing machine"
                      : "\(name) ran on \(entry.host), which differs from the auditing machine:\n" + nodeDifferences.map { "  - \($0)" }.joined(separator: "\n"))
            }
            let outcome = audit.reexecute(name) { Terminal.error("re-executing \(name)...") }
            print(Self.describe(outcome))
            if outcome.reproduced { reproduced += 1 }
        }
        print("\(reproduced) of \(chosen.count) stages reproduced bit for bit" + (chain.problems.isEmpty ? "" : "; the provenance chain has problems"))
        if reproduced < chosen.count || !chain.problems.isEmpty { throw ExitCode(1) }
    }

    static func describe(_ outcome: Audit.StageOutcome) -> String {
        guard let diff = outcome.diff else { return "\(outcome.stage): NOT RE-EXECUTED: \(outcome.problem ?? "")" }
        let time = String(format: "%.1f s", outcome.seconds)
        let volatile = diff.volatile.isEmpty ? "" : "; \(diff.volatile.joined(separator: ", ")) not compared (wall-clock times)"
        if diff.identical { return "\(outcome.stage): reproduced bit for bit (\(diff.files) files, \(time))\(volatile)" }
        var lines = ["\(outcome.stage): DIFFERS in \(diff.differing.count) of \(diff.files) files (\(time))\(volatile)"]
        for file in diff.differing {
            let what = file.old == nil ? "only in the re-execution" : file.new == nil ? "missing from the re-execution" : "\(file.old!.short) -> \(file.new!.short)"
            lines.append("  \(file.path): \(what)")
        }
        for delta in diff.deltas.prefix(20) { lines.append("  \(delta)") }
        if diff.deltas.count > 20 { lines.append("  ... \(diff.deltas.count - 20) more values differ") }
        if outcome.kind == "command" {
            lines.append("  a `command` stage runs your own program: pipe cannot make it deterministic; look for clocks, unseeded randomness or thread-order effects")
        }
        return lines.joined(separator: "\n")
    }
}
