import Foundation
import PipeEngine
import PipeLedger

/// Writes a run's stage results to the ledger on a background thread as they finish, so that
/// recording overlaps execution and a killed run keeps the rows of the stages it finished.
final class LedgerRecorder: RunObserver, @unchecked Sendable {
    private let ledger: Ledger
    private let runId: Int64
    private let recipeName: String
    private let host = Provenance.host
    private let condition = NSCondition()
    private var pending: [StageEntry] = []
    private var recorded = Set<String>()
    private var closed = false
    private var writing = false
    private var failure: Error?

    init(ledger: Ledger, runId: Int64, recipeName: String) {
        self.ledger = ledger
        self.runId = runId
        self.recipeName = recipeName
        let thread = Thread { [self] in drain() }
        thread.start()
    }

    func stageStarted(_ job: String, reason: RunReason) {}

    func stageFinished(_ result: StageResult) {
        condition.withLock {
            recorded.insert(result.job)
            pending.append(entry(result))
            condition.signal()
        }
    }

    /// Records the results not reported yet (stages that never started) and waits for the writes.
    func finish(_ results: [StageResult]) throws {
        condition.lock()
        for result in results where !recorded.contains(result.job) { pending.append(entry(result)) }
        closed = true
        condition.broadcast()
        while !pending.isEmpty || writing { condition.wait() }
        let failure = failure
        condition.unlock()
        if let failure { throw UsageError("cannot record the run in the ledger: \(failure)") }
    }

    private func drain() {
        condition.lock()
        while true {
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed { break }
            // Batch: one transaction per burst of results, not one per result.
            let deadline = Date().addingTimeInterval(0.02)
            while pending.count < 256 && !closed && condition.wait(until: deadline) {}
            let batch = pending
            pending = []
            writing = true
            condition.unlock()
            do { try ledger.record(batch) } catch { condition.withLock { failure = failure ?? error } }
            condition.lock()
            writing = false
            condition.broadcast()
        }
        condition.unlock()
    }

    private func entry(_ result: StageResult) -> StageEntry {
        StageEntry(runId: runId, recipeName: recipeName, stage: result.job, kind: result.kind,
                   status: result.status.rawValue, reason: result.reason?.description, key: result.key?.hex,
                   inputs: Provenance.json(result.inputs.mapValues(\.hex)), output: result.output?.hex,
                   log: result.log?.hex, seconds: result.seconds, started: result.started, host: result.host ?? host,
                   message: result.message, environment: result.environment.map(Provenance.json) ?? "")
    }
}

/// Passes run events to several observers.
final class ObserverGroup: RunObserver {
    private let observers: [RunObserver]
    init(_ observers: [RunObserver]) { self.observers = observers }
    func stageStarted(_ job: String, reason: RunReason) { for o in observers { o.stageStarted(job, reason: reason) } }
    func stageProgress(_ job: String, file: String) { for o in observers { o.stageProgress(job, file: file) } }
    func stageFinished(_ result: StageResult) { for o in observers { o.stageFinished(result) } }
}
