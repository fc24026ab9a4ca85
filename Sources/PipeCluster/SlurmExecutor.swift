import Foundation
import PipeEngine

/// Runs a pipeline on a Slurm cluster: every stage that is not cached becomes a batch job, with
/// `--dependency=afterok:` edges mirroring the graph, so the cluster schedules the whole graph. Each
/// job runs `pipe exec-stage` on a node, which executes that one stage and commits its artifact to
/// the shared cache (a shared directory or the remote). This process follows the jobs with
/// `squeue`, reports them as the local executor does, and cancels them on Ctrl-C.
public final class SlurmExecutor {
    /// One submitted job.
    public struct Submission: Sendable {
        public var id: String
        /// The job's standard output and error (`sbatch --output`).
        public var log: String
        /// The node's `NodeResult`.
        public var result: String
        /// The stage's progress line, which the node writes and this process shows.
        public var progress: String
    }

    /// The command a node runs for `job`, writing its `NodeResult` and progress line to the files of `submission`.
    public typealias NodeCommand = (_ job: Job, _ submission: Submission) -> [String]

    let pipeline: Pipeline
    let cache: Cache
    let options: RunOptions
    let settings: SlurmSettings
    let runDirectory: String
    let previous: PreviousMaterial
    let cancellation: Cancellation
    weak var observer: RunObserver?
    let client: SlurmClient
    let nodeCommand: NodeCommand
    let say: (String) -> Void

    private var results: [Int: StageResult] = [:]
    private var outputs: [Int: Digest] = [:]
    private var submissions: [Int: Submission] = [:]
    /// Jobs seen running (or finished), with why they run.
    private var started: [Int: RunReason] = [:]
    private var unknownPolls: [Int: Int] = [:]
    private var stopped = false

    /// - Parameters:
    ///   - runDirectory: where the jobs' logs and results go; the nodes must see it at the same path.
    ///   - say: prints a line for the user (job ids, log paths, warnings).
    public init(pipeline: Pipeline, cache: Cache, options: RunOptions, settings: SlurmSettings, runDirectory: String,
                previous: @escaping PreviousMaterial = { _ in nil }, cancellation: Cancellation = Cancellation(),
                observer: RunObserver? = nil, client: SlurmClient = SlurmClient(),
                nodeCommand: @escaping NodeCommand, say: @escaping (String) -> Void) {
        self.pipeline = pipeline
        self.cache = cache
        self.options = options
        self.settings = settings
        self.runDirectory = runDirectory
        self.previous = previous
        self.cancellation = cancellation
        self.observer = observer
        self.client = client
        self.nodeCommand = nodeCommand
        self.say = say
    }

    /// Submits what is not cached and follows it to the end. Throws when a job cannot be submitted
    /// (the jobs submitted before it are cancelled); otherwise returns one result per selected job,
    /// in topological order.
    public func run() throws -> [StageResult] {
        let selected = options.only.map { pipeline.closure(of: $0) } ?? Set(pipeline.jobs.indices)
        let order = pipeline.order.filter { selected.contains($0) }
        try submitAll(order)
        if !submissions.isEmpty {
            say("submitted \(submissions.count) stage\(submissions.count == 1 ? "" : "s") to Slurm; logs in \(runDirectory)")
            follow(order)
        }
        return order.map { i in
            results[i] ?? skipped(i, status: cancellation.isCancelled ? .interrupted : .skipped,
                                  cancellation.isCancelled ? "not started: interrupted" : "not started: the run stopped after a failure")
        }
    }

    // MARK: Submission

    /// Whether no job was submitted when `run()` threw: the run left nothing on the cluster and no
    /// log directory.
    public private(set) var submittedNothing = true

    /// Resolves what is cached now (stages whose inputs are all known) and submits the rest. The
    /// log directory is made before the first submission and removed if that one fails.
    private func submitAll(_ order: [Int]) throws {
        for i in order {
            if cancellation.isCancelled { break }
            let job = pipeline.jobs[i]
            let upstream = pipeline.upstream[i]
            if upstream.allSatisfy({ outputs[$0] != nil }), !options.force.contains(job.name) {
                let key = job.keyMaterial(inputs: inputs(of: i)).digest
                if let hit = cache.hit(key) {
                    var result = StageResult(job: job, status: .cached)
                    result.key = key
                    result.inputs = inputs(of: i)
                    result.output = hit.output
                    result.log = hit.log
                    finish(i, result)
                    continue
                }
            }
            do {
                if submissions.isEmpty { try makeRunDirectory() }
                submissions[i] = try submit(i, after: upstream.compactMap { submissions[$0]?.id })
                submittedNothing = false
            } catch {
                client.cancel(submissions.values.map(\.id))
                if submissions.isEmpty { for folder in createdFolders { rmdir(folder) } }
                throw SlurmClient.Failure(description: "cannot submit stage `\(job.name)`: \(error)", hint: (error as? SlurmClient.Failure)?.hint)
            }
        }
    }

    /// The folders `makeRunDirectory` created, innermost first: what a failed first submission removes.
    private var createdFolders: [String] = []

    private func makeRunDirectory() throws {
        var folder = runDirectory
        while !folder.isEmpty, folder != "/", !FileManager.default.fileExists(atPath: folder) {
            createdFolders.append(folder)
            folder = (folder as NSString).deletingLastPathComponent
        }
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        } catch {
            throw SlurmClient.Failure(description: "cannot create the job log directory \(runDirectory): \(error)")
        }
    }

    private func submit(_ i: Int, after dependencies: [String]) throws -> Submission {
        let job = pipeline.jobs[i]
        let base = runDirectory + "/" + Self.fileName(job.name)
        let submission = Submission(id: "", log: base + ".log", result: base + ".result.json", progress: base + ".progress")
        for stale in [submission.log, submission.result, submission.progress] { unlink(stale) }
        var sbatch = ["--job-name=pipe:\(job.name)", "--output=\(submission.log)",
                      "--chdir=\(FileManager.default.currentDirectoryPath)"]
        if !dependencies.isEmpty {
            sbatch += ["--dependency=afterok:" + dependencies.joined(separator: ":"), "--kill-on-invalid-dep=yes"]
        }
        sbatch += settings.options(for: job.resources)
        let command = nodeCommand(job, submission)
        let script = "#!/bin/sh\n# pipe: stage \(job.name.replacingOccurrences(of: "\n", with: " "))\nexec "
            + command.map(Self.shellQuoted).joined(separator: " ") + "\n"
        var submitted = submission
        submitted.id = try client.submit(script: script, options: sbatch)
        say("  \(job.name): job \(submitted.id)" + (dependencies.isEmpty ? "" : " (after \(dependencies.joined(separator: ", ")))"))
        return submitted
    }

    // MARK: Following

    private func follow(_ order: [Int]) {
        var warned = false
        while true {
            let waiting = order.filter { results[$0] == nil && submissions[$0] != nil }
            if waiting.isEmpty { return }
            if cancellation.isCancelled {
                interrupt(order)
                return
            }
            let states: [String: SlurmClient.JobState]
            do {
                states = try client.states(of: waiting.compactMap { submissions[$0]?.id })
                warned = false
            } catch {
                if !warned { say("warning: \(error); retrying") }
                warned = true
                pause()
                continue
            }
            for i in waiting where results[i] == nil {
                guard let submission = submissions[i] else { continue }
                guard let state = states[submission.id] else {
                    vanished(i, submission)
                    continue
                }
                if state.isRunning || state.isCompleted || state.isFailed { markStarted(i) }
                if state.isCompleted {
                    completed(i, submission)
                } else if state.isFailed {
                    failed(i, submission, state)
                }
            }
            if order.allSatisfy({ results[$0] != nil || submissions[$0] == nil }) { return }
            pause()
        }
    }

    /// Sleeps for the poll interval, waking early on a cancellation.
    private func pause() {
        let deadline = Date().addingTimeInterval(max(0.05, settings.poll))
        while Date() < deadline, !cancellation.isCancelled { Thread.sleep(forTimeInterval: 0.05) }
    }

    private func markStarted(_ i: Int) {
        guard started[i] == nil else { return }
        let job = pipeline.jobs[i]
        var reason = RunReason.neverRun
        if options.force.contains(job.name) {
            reason = .forced
        } else if pipeline.upstream[i].allSatisfy({ outputs[$0] != nil }) {
            reason = RunReason.explain(previous: previous(job.name), current: job.keyMaterial(inputs: inputs(of: i)))
        }
        started[i] = reason
        observer?.stageStarted(job.name, reason: reason)
        if let submission = submissions[i] { observer?.stageProgress(job.name, file: submission.progress) }
    }

    /// A job that ended successfully: its artifact must now be in the cache under the key its
    /// inputs give.
    private func completed(_ i: Int, _ submission: Submission) {
        // afterok: its upstream jobs completed first; take them in order.
        guard pipeline.upstream[i].allSatisfy({ outputs[$0] != nil }) else { return }
        let job = pipeline.jobs[i]
        let node = NodeResult.read(from: submission.result)
        var result = StageResult(job: job, status: .ran, started: node?.started ?? Date())
        result.inputs = inputs(of: i)
        let key = job.keyMaterial(inputs: result.inputs).digest
        result.key = key
        result.host = node?.host
        result.environment = node?.environment
        result.seconds = node?.seconds ?? 0
        result.schedulerLog = submission.log
        result.reason = started[i]
        if let node, node.status == StageResult.Status.cached.rawValue { result.status = .cached }
        if let node, let nodeKey = node.key, nodeKey != key.hex {
            result.status = .failed
            result.message = "Slurm job \(submission.id) computed key \(nodeKey.prefix(12)) but this run expects \(key.hex.prefix(12)): "
                + "did the recipe or a file it reads change while the job was queued?"
        } else if let hit = cache.hit(key) {
            result.output = hit.output
            result.log = hit.log
        } else {
            result.status = .failed
            result.message = "Slurm job \(submission.id) finished, but its result is not in this cache (\(key.hex.prefix(12))): "
                + "the nodes must share the cache directory, or a remote (log: \(submission.log))"
        }
        finish(i, result)
    }

    private func failed(_ i: Int, _ submission: Submission, _ state: SlurmClient.JobState) {
        if state.reason == "DependencyNeverSatisfied" {
            // Slurm cancelled it because an upstream job failed; that failure is reported already.
            finish(i, skipped(i, status: .skipped, "not started: an upstream stage failed"))
            return
        }
        let job = pipeline.jobs[i]
        let node = NodeResult.read(from: submission.result)
        var result = StageResult(job: job, status: .failed, started: node?.started ?? Date())
        result.inputs = pipeline.upstream[i].allSatisfy({ outputs[$0] != nil }) ? inputs(of: i) : [:]
        result.key = node?.key.flatMap(Digest.init(hex:))
        result.log = node?.log.flatMap(Digest.init(hex:))
        result.host = node?.host
        result.environment = node?.environment
        result.seconds = node?.seconds ?? 0
        result.schedulerLog = submission.log
        result.reason = started[i]
        let what = "Slurm job \(submission.id) \(state.state)" + (state.reason == "None" || state.reason.isEmpty ? "" : " (\(state.reason))")
        result.message = node?.message.map { "\($0) [\(what)]" } ?? "\(what); log: \(submission.log)"
        result.logTail = node.map(\.logTail).flatMap { $0.isEmpty ? nil : $0 } ?? Executor.tail(of: submission.log)
        finish(i, result)
    }

    /// A job the controller no longer lists (purged after `MinJobAge`, or lost): its result file
    /// decides; without one after a few polls it failed.
    private func vanished(_ i: Int, _ submission: Submission) {
        if let node = NodeResult.read(from: submission.result) {
            markStarted(i)
            if node.status == StageResult.Status.ran.rawValue || node.status == StageResult.Status.cached.rawValue {
                completed(i, submission)
            } else {
                failed(i, submission, SlurmClient.JobState(state: "FAILED", reason: "None"))
            }
            return
        }
        unknownPolls[i, default: 0] += 1
        if unknownPolls[i]! >= 5 {
            failed(i, submission, SlurmClient.JobState(state: "LOST", reason: "no longer known to the controller, and left no result"))
        }
    }

    /// Ctrl-C: cancels every job not finished; running stages are interrupted.
    private func interrupt(_ order: [Int]) {
        let open = order.filter { results[$0] == nil && submissions[$0] != nil }
        client.cancel(open.compactMap { submissions[$0]?.id })
        say("cancelled \(open.count) Slurm job\(open.count == 1 ? "" : "s")")
        for i in open {
            let running = started[i] != nil
            var result = skipped(i, status: .interrupted, running ? "interrupted (Slurm job \(submissions[i]!.id) cancelled)" : "not started: interrupted")
            result.schedulerLog = submissions[i]?.log
            finish(i, result)
        }
    }

    // MARK: Results

    private func finish(_ i: Int, _ result: StageResult) {
        results[i] = result
        observer?.stageFinished(result)
        switch result.status {
        case .cached, .ran:
            outputs[i] = result.output
        case .failed, .interrupted, .skipped:
            guard result.status == .failed else { return }
            skipDependants(of: i, because: "upstream `\(result.job)` failed")
            if !options.keepGoing && !stopped { stopAfterFailure() }
        }
    }

    /// Without `--keep-going`, a failure stops the run: jobs not started yet are cancelled, running
    /// ones finish.
    private func stopAfterFailure() {
        stopped = true
        let waiting = submissions.keys.filter { results[$0] == nil && started[$0] == nil }
        client.cancel(waiting.compactMap { submissions[$0]?.id })
        for i in waiting where results[i] == nil {
            finish(i, skipped(i, status: .skipped, "not started: the run stopped after a failure"))
        }
    }

    private func skipDependants(of i: Int, because message: String) {
        var stack = pipeline.downstream[i]
        var cancel: [String] = []
        while let d = stack.popLast() {
            guard results[d] == nil else { continue }
            if let id = submissions[d]?.id { cancel.append(id) }
            let result = skipped(d, status: .skipped, message)
            results[d] = result
            observer?.stageFinished(result)
            stack.append(contentsOf: pipeline.downstream[d])
        }
        // `--kill-on-invalid-dep` does this too; cancelling here does not wait for the controller.
        client.cancel(cancel)
    }

    private func skipped(_ i: Int, status: StageResult.Status, _ message: String) -> StageResult {
        var result = StageResult(job: pipeline.jobs[i], status: status)
        result.message = message
        return result
    }

    private func inputs(of i: Int) -> [String: Digest] {
        var digests: [String: Digest] = [:]
        for input in pipeline.jobs[i].inputs { digests[input.role] = pipeline.index[input.job].flatMap { outputs[$0] } }
        return digests
    }

    // MARK: Helpers

    /// A job name as a file name. Stage names are letters, digits, `_` and `-`, and an ablation's
    /// union graph adds `#k`, so they are file names already (and distinct); anything else becomes `_`.
    static func fileName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "-_.#".contains($0) ? $0 : "_" })
    }

    /// One shell word: single-quoted, with `'` written as `'\''`.
    static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

}
