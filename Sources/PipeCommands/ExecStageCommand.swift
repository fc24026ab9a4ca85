import ArgumentParser
import Foundation
import PipeCluster
import PipeEngine
import PipeTensor

/// `pipe exec-stage`: what a cluster job runs. Rebuilds the submitting run's pipeline, executes
/// exactly one stage (its upstream stages must be in the shared cache), commits the artifact and
/// writes a `NodeResult` for the submitting `pipe run`. Not for direct use.
struct ExecStageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec-stage", abstract: "Execute one stage of a pipeline (a cluster job's command).",
                                                    shouldDisplay: false)

    @Option(help: "The stage (job) to execute.") var job: String
    @Option(help: "The digest its key material must have (fails when the recipe changed since submission).") var material: String?
    @Option(help: "Where to write the result (JSON).") var result: String?
    @Option(help: "Where to write the stage's progress line (the submitting run shows it).") var progress: String?
    @Option(help: "The cache directory.") var cache: String?
    @Option(help: "Build the pipeline from this recipe...") var recipe: String?
    @Option(help: "...or from this experiment.") var experiment: String?
    @Option(name: .customLong("set")) var sets: [String] = []
    @Option(name: .customLong("axis")) var axes: [String] = []
    @Option var seeds: String?
    @Flag(help: "Execute the stage even if it is cached.") var force = false

    /// The command line a node runs for `job`.
    static func arguments(for job: Job, resultFile: String, progressFile: String, source: PipelineSource, cacheRoot: String, force: Bool, pipe: String?) -> [String] {
        let binary = pipe ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // The node chooses its own OpenBLAS core type and threads: drop what this process's re-execution set.
        let clear = BLASCoreType.inheritedSettings().flatMap { ["-u", $0] }
        return (clear.isEmpty ? [] : ["/usr/bin/env"] + clear) + [binary, "exec-stage", "--job", job.name, "--material", job.material.digest.hex, "--result", resultFile,
                                                                    "--progress", progressFile, "--cache", cacheRoot]
            + source.arguments + (force ? ["--force"] : [])
    }

    func validate() throws {
        guard (recipe == nil) != (experiment == nil) else { throw ValidationError("give one of --recipe and --experiment") }
    }

    func run() throws {
        let host = Provenance.host
        do {
            let outcome = try execute()
            try? result.map { try NodeResult(outcome, host: host, environment: Provenance.stageEnvironment).write(to: $0) }
            report(outcome, host: host)
            switch outcome.status {
            case .ran, .cached: return
            case .interrupted: throw ExitCode(130)
            case .failed, .skipped: throw ExitCode(1)
            }
        } catch let error where !(error is ExitCode) {
            // The submitting run reads why from the result file, then from the job's log.
            if let result { try? NodeResult(job: job, failure: "\(error)", host: host, environment: Provenance.stageEnvironment).write(to: result) }
            throw error
        }
    }

    private func execute() throws -> StageResult {
        let source: PipelineSource = recipe.map { .recipe(file: $0, sets: sets) }
            ?? .experiment(file: experiment ?? "", axes: axes, seeds: seeds, sets: sets)
        let pipeline = try source.pipeline()
        guard let index = pipeline.index[job] else { throw UsageError("no stage `\(job)` in the pipeline of \(recipe ?? experiment ?? "")") }
        let target = pipeline.jobs[index]
        if let material, target.material.digest.hex != material {
            throw UsageError("stage `\(job)` is not the one submitted: its recipe, overrides or files changed since (key material \(target.material.digest.hex.prefix(12)), submitted \(material.prefix(12)))")
        }
        let upstream = Set(pipeline.closure(of: [job]).map { pipeline.jobs[$0].name }).subtracting([job])
        let runCache = try Project(cacheOption: cache).openRunCache()
        let cancellation = Cancellation()
        let signals = SignalTrap(cancellation: cancellation)
        defer { signals.restore() }
        let options = RunOptions(jobs: 1, force: force ? [job] : [], only: [job], requireCached: upstream,
                                 progressFiles: progress.map { [job: $0] } ?? [:])
        let results = Executor(pipeline: pipeline, cache: runCache.cache, options: options, cancellation: cancellation).run()
        if let line = runCache.finish() { print(line) }
        guard var outcome = results.first(where: { $0.job == job }) else { throw UsageError("stage `\(job)` did not run") }
        if outcome.status == .skipped, let cause = results.first(where: { $0.status == .failed }) {
            outcome.message = "upstream `\(cause.job)`: \(cause.message ?? "failed")"
        }
        return outcome
    }

    private func report(_ outcome: StageResult, host: String) {
        let key = outcome.key.map { " key \($0.hex.prefix(12))" } ?? ""
        print("pipe: stage \(job) \(outcome.status.rawValue) on \(host) in \(Terminal.duration(outcome.seconds))\(key)")
        if let message = outcome.message { Terminal.error("pipe: \(message)") }
        for line in outcome.logTail { Terminal.error("  " + line) }
    }
}
