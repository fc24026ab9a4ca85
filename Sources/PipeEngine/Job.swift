import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One node of the graph the engine runs: a name, its inputs, what its key is made of, and what it does.
public struct Job: Sendable {
    public struct Input: Sendable, Equatable {
        public var role: String
        public var job: String
        public init(role: String, job: String) { self.role = role; self.job = job }
    }

    public var name: String
    public var kind: String
    public var inputs: [Input]
    /// Everything the cache key covers except the input digests, which the engine adds as `inputs`.
    public var material: KeyValue
    public var action: any JobAction
    /// What the job asks of a cluster scheduler (`cpus` -> `"8"`); not part of the key.
    public var resources: [String: String]

    public init(name: String, kind: String, inputs: [Input], material: KeyValue, action: any JobAction,
                resources: [String: String] = [:]) {
        self.name = name
        self.kind = kind
        self.inputs = inputs
        self.material = material
        self.action = action
        self.resources = resources
    }

    /// The material with the input digests: what the key is the digest of.
    public func keyMaterial(inputs digests: [String: Digest]) -> KeyValue {
        guard case .map(var entries) = material else { return material }
        entries["inputs"] = .map(digests.mapValues { .string($0.hex) })
        return .map(entries)
    }
}

/// What a job does when it is not cached: read `inputDirectories`, write `outputDirectory`.
public protocol JobAction: Sendable {
    func run(_ context: JobContext) throws
}

/// A job's workspace while it runs.
public struct JobContext: Sendable {
    /// Empty at the start; its content becomes the artifact.
    public var outputDirectory: String
    /// Role -> the upstream artifact, materialized read-only.
    public var inputDirectories: [String: String]
    /// Scratch space, removed afterwards (it holds `out/`, `in/` and `log` too: leave those alone).
    public var scratchDirectory: String
    /// The captured log (stdout/stderr); append to it.
    public var logPath: String
    /// A file whose last line is the stage's progress, shown in the live progress line of
    /// `pipe run` (`$PIPE_PROGRESS` of a `command` stage).
    public var progressPath: String
    public var cancellation: Cancellation

    /// Appends a line to the log; the line is the stage's progress too (a built-in kind logs
    /// `step 40/100 ... loss 0.41 ...` as it trains).
    public func log(_ line: String) {
        guard let handle = FileHandle(forWritingAtPath: logPath) else { return }
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try? handle.close()
        progress(line)
    }

    /// Replaces the stage's progress line with the last line of `text`, in one step (a reader
    /// sees the old line or the new).
    public func progress(_ text: String) {
        guard let line = text.split(separator: "\n").last else { return }
        // The temporary file beside the progress file: a rename stays on its file system.
        try? FileSystem.writeAtomically(Data((line + "\n").utf8), to: progressPath,
                                        temporaryDirectory: (progressPath as NSString).deletingLastPathComponent)
    }
}

/// A job that failed, with a message for the user.
public struct JobFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Interrupts a run: stops scheduling and terminates the process groups of running stages.
public final class Cancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var groups: Set<pid_t> = []

    public init() {}

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Registers a running child's process group; false when the run is already cancelled.
    public func register(processGroup: pid_t) -> Bool {
        lock.withLock {
            groups.insert(processGroup)
            return !cancelled
        }
    }

    public func unregister(processGroup: pid_t) { _ = lock.withLock { groups.remove(processGroup) } }

    /// Sends SIGTERM to every running stage's process group, and SIGKILL to those left after `grace`.
    public func cancel(grace: TimeInterval = 3) {
        let running: Set<pid_t> = lock.withLock {
            cancelled = true
            return groups
        }
        for group in running { kill(-group, SIGTERM) }
        guard !running.isEmpty else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) { [self] in
            for group in lock.withLock({ groups }) { kill(-group, SIGKILL) }
        }
    }
}

/// The stores a run reads and writes.
public struct Cache: Sendable {
    public let objects: ContentStore
    public let actions: ActionCache
    public let locks: KeyLocks
    /// Where workspaces are made; on the objects' file system, so outputs move in by rename.
    public let temporaryDirectory: String

    public init(objects: ContentStore, actions: ActionCache, locks: KeyLocks, temporaryDirectory: String) {
        self.objects = objects
        self.actions = actions
        self.locks = locks
        self.temporaryDirectory = temporaryDirectory
    }

    /// The on-disk cache under `root`: `objects/`, `actions/`, `locks/`, `tmp/`.
    public static func onDisk(root: String) throws -> Cache {
        let temporary = root + "/tmp"
        return Cache(objects: try FileContentStore(root: root, temporaryDirectory: temporary),
                     actions: try FileActionCache(root: root, temporaryDirectory: temporary),
                     locks: try FileKeyLocks(root: root),
                     temporaryDirectory: temporary)
    }

    /// The output and log of `key` if its record is present and its output passes `checkOutput`.
    public func hit(_ key: Digest) -> (output: Digest, log: Digest?)? {
        (try? checkedHit(key)) ?? nil
    }
}
