import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a pipeline: each job whose key is not cached is executed in a fresh workspace and its
/// output committed (objects first, record last), on up to `options.jobs` worker threads.
public final class Executor: @unchecked Sendable {
    let pipeline: Pipeline
    let cache: Cache
    let options: RunOptions
    let previous: PreviousMaterial
    let cancellation: Cancellation
    weak var observer: RunObserver?

    // Scheduling state, guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Int]
    private var ready: [Int] = []
    private var running = 0
    private var stopped = false
    private var results: [StageResult?]
    private var outputs: [Digest?]
    private var keys: [Digest?]
    private var forcedReason: [Int: RunReason] = [:]
    private let selected: Set<Int>
    private let observerLock = NSLock()

    public init(pipeline: Pipeline, cache: Cache, options: RunOptions = RunOptions(),
                previous: @escaping PreviousMaterial = { _ in nil }, cancellation: Cancellation = Cancellation(),
                observer: RunObserver? = nil) {
        self.pipeline = pipeline
        self.cache = cache
        self.options = options
        self.previous = previous
        self.cancellation = cancellation
        self.observer = observer
        let count = pipeline.jobs.count
        let selected = options.only.map { pipeline.closure(of: $0) } ?? Set(0..<count)
        self.selected = selected
        pending = (0..<count).map { i in pipeline.upstream[i].filter { selected.contains($0) }.count }
        results = Array(repeating: nil, count: count)
        outputs = Array(repeating: nil, count: count)
        keys = Array(repeating: nil, count: count)
    }

    /// Runs to the end (or the first failure, unless `keepGoing`) and returns one result per
    /// selected job, in topological order.
    public func run() -> [StageResult] {
        ready = pipeline.order.filter { selected.contains($0) && pending[$0] == 0 }
        let done = DispatchGroup()
        for _ in 0..<min(options.jobs, max(1, selected.count)) {
            done.enter()
            let thread = Thread { [self] in
                work()
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return pipeline.order.filter { selected.contains($0) }.map { i in
            results[i] ?? {
                var result = StageResult(job: pipeline.jobs[i], status: cancellation.isCancelled ? .interrupted : .skipped)
                result.message = cancellation.isCancelled ? "not started: interrupted" : "not started: the run stopped after a failure"
                return result
            }()
        }
    }

    private func work() {
        let workspace = Workspace(in: cache.temporaryDirectory)
        defer { workspace.remove() }
        condition.lock()
        while true {
            if !stopped, !cancellation.isCancelled, !ready.isEmpty {
                let i = ready.removeFirst()
                running += 1
                let inputs = inputDigests(of: i)
                let forced = forcedReason.removeValue(forKey: i)
                condition.unlock()
                let outcome = process(i, inputs: inputs, forced: forced, workspace: workspace)
                condition.lock()
                running -= 1
                finish(i, outcome)
                condition.broadcast()
                continue
            }
            if running == 0 { break }
            condition.wait()
        }
        condition.broadcast()
        condition.unlock()
    }

    private func inputDigests(of i: Int) -> [String: Digest] {
        var digests: [String: Digest] = [:]
        for input in pipeline.jobs[i].inputs { digests[input.role] = outputs[pipeline.index[input.job]!] }
        return digests
    }

    enum Outcome {
        case done(StageResult)
        /// An input's cached artifact failed verification: rerun that upstream job, then this one.
        case corruptInput(upstream: Int, detail: String)
    }

    /// Called with `condition` held.
    private func finish(_ i: Int, _ outcome: Outcome) {
        switch outcome {
        case .corruptInput(let u, let detail):
            if let key = keys[u] { try? cache.actions.remove(key) }
            outputs[u] = nil
            results[u] = nil
            forcedReason[u] = .corruptOutput(detail)
            pending[i] = 1
            // The upstream job's other dependants that have not started wait for it again too.
            for d in pipeline.downstream[u] where d != i && selected.contains(d) && results[d] == nil {
                if let position = ready.firstIndex(of: d) {
                    ready.remove(at: position)
                    pending[d] = 1
                } else if pending[d] > 0 {
                    pending[d] += 1
                }
            }
            ready.insert(u, at: 0)
        case .done(let result):
            results[i] = result
            keys[i] = result.key
            notify { $0.stageFinished(result) }
            switch result.status {
            case .cached, .ran:
                outputs[i] = result.output
                for d in pipeline.downstream[i] where selected.contains(d) {
                    pending[d] -= 1
                    if pending[d] == 0 { ready.append(d) }
                }
            case .failed, .interrupted, .skipped:
                skipDependants(of: i, because: "upstream `\(result.job)` \(result.status == .failed ? "failed" : "did not finish")")
                if !options.keepGoing || result.status == .interrupted { stopped = true }
            }
        }
    }

    private func skipDependants(of i: Int, because message: String) {
        var stack = pipeline.downstream[i]
        while let d = stack.popLast() {
            guard selected.contains(d), results[d] == nil else { continue }
            var result = StageResult(job: pipeline.jobs[d], status: .skipped)
            result.message = message
            results[d] = result
            notify { $0.stageFinished(result) }
            stack.append(contentsOf: pipeline.downstream[d])
        }
    }

    func notify(_ call: (RunObserver) -> Void) {
        guard let observer else { return }
        observerLock.withLock { call(observer) }
    }
}
