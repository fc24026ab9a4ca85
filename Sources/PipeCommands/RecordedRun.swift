import Foundation
import PipeEngine
import PipeLedger

/// One execution of a pipeline as `pipe run` and `pipe ablate` do it: recorded in the ledger,
/// shown live, Ctrl-C cancelling it, and the summary table at the end.
struct RecordedRun {
    var results: [StageResult]
    var runId: Int64
    var interrupted: Bool
    var failed: Bool { results.contains { $0.status == .failed } }

    static func execute(_ pipeline: Pipeline, entry: RunEntry, recipeName: String, cache: Cache, ledger: Ledger, options: RunOptions,
                        previous: @escaping PreviousMaterial, cacheRoot: String) throws -> RecordedRun {
        let runId = try ledger.begin(entry)
        let cancellation = Cancellation()
        let signals = SignalTrap(cancellation: cancellation)
        let reporter = ProgressReporter(total: pipeline.jobs.count)
        let recorder = LedgerRecorder(ledger: ledger, runId: runId, recipeName: recipeName)
        let observers = ObserverGroup([reporter, recorder])
        let executor = Executor(pipeline: pipeline, cache: cache, options: options, previous: previous,
                                cancellation: cancellation, observer: observers)
        let started = ContinuousClock.now
        // The executor holds its observer weakly.
        let results = withExtendedLifetime(observers) { executor.run() }
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
