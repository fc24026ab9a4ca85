import Foundation

/// What happened to one stage in a run.
public struct StageResult: Sendable {
    public enum Status: String, Sendable, Codable {
        /// Found in the cache.
        case cached
        /// Executed and committed.
        case ran
        /// Executed and failed.
        case failed
        /// Not run: an upstream stage failed, or the run stopped after a failure.
        case skipped
        /// Stopped by Ctrl-C or a signal.
        case interrupted
    }

    public var job: String
    public var kind: String
    public var status: Status
    public var key: Digest?
    /// Why it ran (for `ran`, `failed`, `interrupted`).
    public var reason: RunReason?
    public var inputs: [String: Digest]
    public var output: Digest?
    public var log: Digest?
    public var started: Date
    public var seconds: Double
    /// For `failed` and `skipped`: what went wrong.
    public var message: String?
    /// The last lines of a failed stage's log.
    public var logTail: [String]
    /// True when another process computed the key while this one waited for it.
    public var computedElsewhere: Bool
    /// The machine that executed it, when not this one (a cluster node).
    public var host: String?
    /// Where the scheduler that ran it keeps its output (a cluster job's log), if anywhere.
    public var schedulerLog: String?
    /// The executing machine's description (machine, compiler, BLAS...), when not this process's.
    public var environment: [String: String]?

    public init(job: Job, status: Status, started: Date = Date()) {
        self.job = job.name
        self.kind = job.kind
        self.status = status
        self.inputs = [:]
        self.started = started
        self.seconds = 0
        self.logTail = []
        self.computedElsewhere = false
    }
}

/// Receives progress from a run; calls arrive one at a time, from worker threads.
public protocol RunObserver: AnyObject {
    func stageStarted(_ job: String, reason: RunReason)
    /// Where the running stage `job` reports its progress: a file whose last line is the progress.
    func stageProgress(_ job: String, file: String)
    func stageFinished(_ result: StageResult)
}

extension RunObserver {
    public func stageProgress(_ job: String, file: String) {}
}

/// How a run proceeds.
public struct RunOptions: Sendable {
    /// Stages executed at the same time.
    public var jobs: Int
    /// Stages to execute even when cached.
    public var force: Set<String>
    /// Run only these stages and what they read.
    public var only: Set<String>?
    /// After a failure, keep running the stages that do not depend on it.
    public var keepGoing: Bool
    /// Stages that must be cache hits: a miss fails them instead of executing them (a cluster
    /// node executes one stage and expects its upstream stages cached).
    public var requireCached: Set<String>
    /// Where a stage's progress line goes instead of its workspace (a cluster node writes it beside
    /// the job's log, where the submitting run reads it).
    public var progressFiles: [String: String]

    public init(jobs: Int = 1, force: Set<String> = [], only: Set<String>? = nil, keepGoing: Bool = false,
                requireCached: Set<String> = [], progressFiles: [String: String] = [:]) {
        self.progressFiles = progressFiles
        self.jobs = max(1, jobs)
        self.force = force
        self.only = only
        self.keepGoing = keepGoing
        self.requireCached = requireCached
    }
}
