import Foundation
import PipeCluster
import PipeEngine
import PipeLedger

/// Where a run's stages execute.
enum StageExecution {
    case local
    /// As Slurm jobs; nodes rebuild the pipeline from `source`.
    case slurm(SlurmSettings, source: PipelineSource)
}

/// One execution of a pipeline as `pipe run` and `pipe ablate` do it: recorded in the ledger,
/// shown live, Ctrl-C cancelling it, and the summary table at the end.
struct RecordedRun {
    var results: [StageResult]
    var runId: Int64
    var interrupted: Bool
    var failed: Bool { results.contains { $0.status == .failed } }

    static func execute(_ pipeline: Pipeline, entry: RunEntry, recipeName: String, cache: Cache, ledger: Ledger, options: RunOptions,
                        previous: @escaping PreviousMaterial, cacheRoot: String, execution: StageExecution = .local) throws -> RecordedRun {
        let runId = try ledger.begin(entry)
        let cancellation = Cancellation()
        let signals = SignalTrap(cancellation: cancellation)
        let reporter = ProgressReporter(total: pipeline.jobs.count)
        let recorder = LedgerRecorder(ledger: ledger, runId: runId, recipeName: recipeName)
        let observers = ObserverGroup([reporter, recorder])
        let started = ContinuousClock.now
        let results: [StageResult]
        switch execution {
        case .local:
            let executor = Executor(pipeline: pipeline, cache: cache, options: options, previous: previous,
                                    cancellation: cancellation, observer: observers)
            // The executor holds its observer weakly.
            results = withExtendedLifetime(observers) { executor.run() }
        case .slurm(let settings, let source):
            let executor = SlurmExecutor(pipeline: pipeline, cache: cache, options: options, settings: settings,
                                         runDirectory: (settings.logs ?? cacheRoot + "/slurm") + "/run-\(runId)",
                                         previous: previous, cancellation: cancellation, observer: observers,
                                         nodeCommand: { job, files in
                                             ExecStageCommand.arguments(for: job, resultFile: files.result, progressFile: files.progress, source: source, cacheRoot: settings.cache ?? cacheRoot,
                                                                        force: options.force.contains(job.name), pipe: settings.pipe)
                                         },
                                         say: { reporter.note($0) })
            do {
                results = try withExtendedLifetime(observers) { try executor.run() }
            } catch {
                reporter.stop()
                signals.restore()
                if executor.submittedNothing {
                    // Nothing reached the cluster: the attempt is not a run.
                    try? ledger.discard(run: runId)
                } else {
                    try? recorder.finish([])
                    try? ledger.finish(run: runId, status: "failed")
                }
                let hint = (error as? SlurmClient.Failure)?.hint ?? SlurmClient.hint(forSubmission: "")
                throw UsageError(wrapping: error, hint: hint)
            }
        }
        reporter.stop()
        signals.restore()
        let elapsed = ContinuousClock.now - started
        try recorder.finish(results)
        let run = RecordedRun(results: results, runId: runId, interrupted: cancellation.isCancelled)
        try ledger.finish(run: runId, status: run.interrupted ? "interrupted" : run.failed ? "failed" : "succeeded")
        Summary.print(results, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      runId: runId, cacheRoot: cacheRoot)
        return run
    }
}
