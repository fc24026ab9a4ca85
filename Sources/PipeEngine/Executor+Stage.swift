import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Executor {
    /// Looks one job up in the cache and, on a miss, executes and commits it. Runs on a worker thread.
    func process(_ i: Int, inputs: [String: Digest], forced: RunReason?, workspace: Workspace) -> Outcome {
        let job = pipeline.jobs[i]
        let material = job.keyMaterial(inputs: inputs)
        let key = material.digest
        var result = StageResult(job: job, status: .cached)
        result.key = key
        result.inputs = inputs

        var reason = forced ?? (options.force.contains(job.name) ? .forced : nil)
        if reason == nil {
            do {
                if let record = try cache.checkedHit(key) {
                    result.output = record.output
                    result.log = record.log
                    return .done(result)
                }
            } catch {
                // A damaged hit is a miss: its record goes, and the stage is recomputed.
                reason = .corruptOutput("\(error)")
                cache.discard(key, because: error)
            }
        }

        if options.requireCached.contains(job.name) {
            return .done(failure(result, "not in the cache (key \(key.hex.prefix(12))), and this run may not execute it"))
        }
        // A miss: hold the key so no other run computes it at the same time, then look again.
        let lease: KeyLease
        do {
            let acquired = try cache.locks.acquire(key)
            lease = acquired.lease
            if acquired.waited, reason == nil, let record = cache.hit(key) {
                lease.release()
                result.output = record.output
                result.log = record.log
                result.computedElsewhere = true
                return .done(result)
            }
        } catch {
            return .done(failure(result, "cannot lock the cache: \(error)"))
        }
        defer { lease.release() }

        let why = reason ?? RunReason.explain(previous: previous(job.name), current: material)
        result.reason = why
        notify { $0.stageStarted(job.name, reason: why) }
        return execute(job, index: i, result: result, material: material, workspace: workspace)
    }

    private func execute(_ job: Job, index i: Int, result: StageResult, material: KeyValue, workspace: Workspace) -> Outcome {
        var result = result
        // The workspace is the scratch space; `out/`, `in/` and `log` in it are the engine's.
        let context = JobContext(outputDirectory: workspace.output, inputDirectories: [:],
                                 scratchDirectory: workspace.root, logPath: workspace.log,
                                 progressPath: options.progressFiles[job.name] ?? workspace.progress, cancellation: cancellation)
        var inputs: [String: String] = [:]
        do {
            try workspace.prepare()
            for input in job.inputs {
                let directory = workspace.inputs + "/" + input.role
                do {
                    try Tree.materialize(result.inputs[input.role]!, from: cache.objects, into: directory)
                } catch let error as EngineError {
                    if case .corruptObject(let digest, _) = error { try? cache.objects.remove(digest) }
                    switch error {
                    case .corruptObject, .missingObject, .treeTooLarge:
                        return .corruptInput(upstream: pipeline.index[input.job]!, detail: "\(error)")
                    default: throw error
                    }
                }
                FileSystem.makeReadOnly(directory)
                inputs[input.role] = directory
            }
        } catch {
            return .done(failure(result, "cannot prepare the workspace: \(error)"))
        }

        var running = context
        running.inputDirectories = inputs
        notify { $0.stageProgress(job.name, file: context.progressPath) }
        let clock = ContinuousClock.now
        result.started = Date()
        var thrown: Error?
        do {
            try job.action.run(running)
        } catch {
            thrown = error
        }
        result.seconds = Self.seconds(since: clock)
        // Read before storing the log: storing may fail (a full disk) and the tail is needed then most.
        let tail = thrown == nil ? [] : Self.tail(of: context.logPath)
        result.log = try? cache.objects.ingest(fileAt: context.logPath).digest
        if cancellation.isCancelled {
            result.status = .interrupted
            result.message = "interrupted"
            return .done(result)
        }
        if let thrown {
            result.logTail = tail
            return .done(failure(result, "\(thrown)"))
        }
        do {
            let tree = try Tree.ingest(directory: context.outputDirectory, into: cache.objects)
            let record = ActionRecord(key: result.key!, output: tree.digest, log: result.log, material: material,
                                      stage: job.name, kind: job.kind, files: tree.files, bytes: tree.bytes,
                                      seconds: result.seconds, created: result.started)
            try cache.actions.store(record)
            result.output = tree.digest
            result.status = .ran
        } catch {
            return .done(failure(result, "cannot commit the output: \(error)"))
        }
        return .done(result)
    }

    private func failure(_ result: StageResult, _ message: String) -> StageResult {
        var result = result
        result.status = .failed
        result.message = message
        return result
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The last 20 lines of a log file.
    public static func tail(of path: String) -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 16 << 10 ? size - (16 << 10) : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        return Array(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .reversed().drop { $0.isEmpty }.reversed().suffix(20))
    }
}
