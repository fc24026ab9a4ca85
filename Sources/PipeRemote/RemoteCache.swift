import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// Moves stage results between a local cache and a remote laid out like one: `objects/ab/cdef...`
/// and `actions/ab/KEY.json`.
///
/// A pull fetches a record, then every object of its output tree (and log) missing locally, in
/// parallel, each verified against its digest before it enters the local store, and stores the record
/// locally last. A push uploads the objects the remote lacks, then the record, signed with the
/// user's key, so a reader never sees a record whose objects are missing. A record is used only if
/// it is a valid record of its key and `trust` accepts it, before any of its objects is fetched.
public final class RemoteCache: @unchecked Sendable {
    public let backend: RemoteBackend
    public let local: Cache
    let parallel: Int
    /// Which remote records are used.
    public let trust: TrustPolicy
    /// The key pushed records are signed with; nil pushes them unsigned.
    public let signingKey: SigningKeyFile?
    private var noticed = Set<String>()

    /// Transfer counts, for summaries and tests.
    public struct Counts: Sendable, Equatable {
        public var objectsFetched = 0, bytesFetched = 0, objectsPushed = 0, bytesPushed = 0, recordsFetched = 0, recordsPushed = 0
    }

    private var counts = Counts()
    private let lock = NSLock()

    public init(backend: RemoteBackend, local: Cache, parallel: Int = 8, trust: TrustPolicy = TrustPolicy(), signingKey: SigningKeyFile? = nil) {
        self.backend = backend
        self.local = local
        self.parallel = max(1, parallel)
        self.trust = trust
        self.signingKey = signingKey
    }

    public var transferred: Counts { lock.withLock { counts } }

    /// Objects at least this large are uploaded only after a HEAD says the remote lacks them.
    static let askBeforeSending = 1 << 20

    static func objectPath(_ digest: Digest) -> String { "objects/\(digest.hex.prefix(2))/\(digest.hex.dropFirst(2))" }
    static func recordPath(_ key: Digest) -> String { "actions/\(key.hex.prefix(2))/\(key.hex).json" }

    /// The remote's record for `key`, or nil when it has none. Throws `.corrupt` for a record that
    /// is not a valid record of `key` and `.untrusted` for one `trust` does not accept.
    public func remoteRecord(_ key: Digest) throws -> ActionRecord? {
        guard let data = try backend.read(Self.recordPath(key)) else { return nil }
        let record: ActionRecord
        do {
            record = try ActionRecord(validating: data, key: key)
        } catch {
            throw RemoteError.corrupt("the record of \(key.short) on \(backend.displayName) is ignored: \(error)")
        }
        var policy = trust
        // The user's key may have been made since this cache was opened (by a cluster node, say).
        if policy.ownKey == nil { policy.ownKey = try? signingKey?.existing()?.publicKey }
        if let reason = policy.objection(to: record) {
            throw RemoteError.untrusted(Distrust(reason: reason, key: key, stage: Distrust.printable(record.stage), remote: backend.displayName,
                                                 listsKeys: !trust.trustedKeys.isEmpty))
        }
        return record
    }

    /// Whether `distrust` is the first of its signer in this cache's life: warnings are printed once
    /// per signer per run.
    public func isFirstNotice(_ distrust: Distrust) -> Bool {
        lock.withLock { noticed.insert(distrust.signer).inserted }
    }

    /// Fetches the result of `key` into the local cache; nil when the remote does not have it.
    @discardableResult
    public func pull(_ key: Digest) throws -> ActionRecord? {
        guard var record = try remoteRecord(key) else { return nil }
        try fetchTree(record.output)
        if let log = record.log, !local.objects.contains(log) {
            // A log is not worth failing a hit for.
            if (try? fetch(log)) == nil { record.log = nil }
        }
        try local.actions.store(record)
        lock.withLock { counts.recordsFetched += 1 }
        return record
    }

    /// Fetches every object of a tree missing locally: listings level by level, then the files.
    /// Each level's listings are fetched, verified and decoded (which refuses names that would leave
    /// their directory) before the next level is asked for, and the paths they describe are counted
    /// against `Tree.Limits` (a listing named twice counts twice), so a hostile tree is refused after
    /// a few objects, whatever it claims to hold. A refused listing is deleted from the local store.
    func fetchTree(_ root: Digest, limits: Tree.Limits = .standard) throws {
        var level: [Digest: Int] = [root: 1]   // listing -> how many paths name it
        var entries = 0, depth = 0
        var files = Set<Digest>()
        while !level.isEmpty {
            depth += 1
            guard depth <= limits.maxDepth else {
                throw RemoteError.corrupt("tree \(root.short) from \(backend.displayName) nests directories more than \(limits.maxDepth) deep, the limit per artifact; refused")
            }
            try fetchAll(level.keys.filter { !local.objects.contains($0) })
            var next: [Digest: Int] = [:]
            for (listing, paths) in level {
                let tree = try loadFetched(listing, root: root)
                let (count, overflow) = tree.entries.count.multipliedReportingOverflow(by: paths)
                entries += overflow ? limits.maxEntries + 1 : count
                guard entries <= limits.maxEntries else {
                    throw RemoteError.corrupt("tree \(root.short) from \(backend.displayName) has more than \(limits.maxEntries) files and directories, the limit per artifact; refused")
                }
                for entry in tree.entries {
                    if entry.kind == .directory { next[entry.digest, default: 0] += paths } else if !local.objects.contains(entry.digest) { files.insert(entry.digest) }
                }
            }
            level = next
        }
        try fetchAll(Array(files))
    }

    /// A fetched listing, decoded; one the decoder refuses is deleted and reported as corrupt.
    private func loadFetched(_ listing: Digest, root: Digest) throws -> Tree {
        do {
            return try Tree.load(listing, from: local.objects)
        } catch let error as EngineError {
            try? local.objects.remove(listing)
            throw RemoteError.corrupt("tree \(root.short) from \(backend.displayName) is refused: \(error)")
        }
    }

    private func fetchAll(_ digests: [Digest]) throws {
        try Parallel.forEach(digests.count, width: parallel) { try self.fetch(digests[$0]) }
    }

    /// Downloads one object into a temporary file, checks its digest and moves it into the store.
    func fetch(_ digest: Digest) throws {
        let temporary = local.temporaryDirectory + "/remote-\(getpid())-\(UUID().uuidString)"
        defer { unlink(temporary) }
        guard let actual = try backend.download(Self.objectPath(digest), to: temporary) else {
            throw RemoteError.transfer("\(backend.displayName) has no object \(digest.short), which one of its records names")
        }
        guard actual == digest else {
            throw RemoteError.corrupt("object \(digest.short) from \(backend.displayName) hashes to \(actual.short), not its name; discarded")
        }
        var info = stat()
        stat(temporary, &info)
        try local.objects.adopt(fileAt: temporary, digest: digest)
        lock.withLock {
            counts.objectsFetched += 1
            counts.bytesFetched += Int(info.st_size)
        }
    }

    /// What a push did.
    public enum PushOutcome: Sendable, Equatable {
        case pushed(objects: Int, bytes: Int)
        case alreadyThere
    }

    /// Uploads the local result of `key`: the objects the remote lacks, then the record.
    @discardableResult
    public func push(_ key: Digest) throws -> PushOutcome {
        guard let record = try local.actions.record(for: key) else {
            throw RemoteError.local("no cached result \(key.short) to push")
        }
        if try remoteHasUsableRecord(key) { return .alreadyThere }
        let walked = try Tree.walk(record.output, in: local.objects)
        var objects = Set(walked.listings + walked.files.map(\.entry.digest))
        if let log = record.log, local.objects.contains(log) { objects.insert(log) }
        let list = Array(objects)
        let tally = NSLock()
        var count = 0, bytes = 0
        try Parallel.forEach(list.count, width: parallel) { i in
            let digest = list[i]
            let path = Self.objectPath(digest)
            let size = self.local.objects.size(of: digest) ?? 0
            // A small object costs about as much to send as to ask about; a large one is sent only if missing.
            if size >= Self.askBeforeSending { guard try !self.backend.exists(path) else { return } }
            if let store = self.local.objects as? FileContentStore {
                try self.backend.upload(file: store.path(of: digest), to: path)
            } else {
                try self.backend.upload(try self.local.objects.read(digest), to: path)
            }
            tally.withLock {
                count += 1
                bytes += size
            }
        }
        var stored = record
        if let log = record.log, !objects.contains(log) { stored.log = nil }
        stored.signature = nil
        if let signingKey { stored = try signingKey.loadOrCreate().sign(stored) }
        try backend.upload(try stored.fileData(), to: Self.recordPath(key))
        lock.withLock {
            counts.objectsPushed += count
            counts.bytesPushed += bytes
            counts.recordsPushed += 1
        }
        return .pushed(objects: count, bytes: bytes)
    }

    /// Whether the remote has a record of `key` that someone can use. One that nobody can (unreadable,
    /// unsigned where signatures are required, or badly signed) is replaced by the push; one validly
    /// signed by a key this project does not trust is left for those who trust it.
    private func remoteHasUsableRecord(_ key: Digest) throws -> Bool {
        do {
            return try remoteRecord(key) != nil
        } catch RemoteError.untrusted(let distrust) {
            if case .unknownSigner = distrust.reason { return true }
            return false
        } catch RemoteError.corrupt {
            return false
        }
    }

    /// The keys of every record on the remote, or nil when it cannot list.
    public func remoteKeys() throws -> [Digest]? {
        guard let prefixes = try backend.list("actions") else { return nil }
        var keys: [Digest] = []
        for prefix in prefixes where prefix.count == 2 {
            guard let names = try backend.list("actions/" + prefix) else { return nil }
            keys += names.filter { $0.hasSuffix(".json") }.compactMap { Digest(hex: String($0.dropLast(5))) }
        }
        return keys
    }
}

/// Runs `body(0..<count)` on up to `width` threads; rethrows the first error after all have stopped.
/// Threads of its own, not `concurrentPerform`: transfers block on the network, and GCD runs about
/// one blocking item per core (two here) where 8 transfers in flight are wanted.
enum Parallel {
    /// The shared cursor and first error of one `forEach`.
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var firstError: Error?
    }

    static func forEach(_ count: Int, width: Int, _ body: @escaping (Int) throws -> Void) throws {
        guard count > 0 else { return }
        if count == 1 || width == 1 {
            for i in 0..<count { try body(i) }
            return
        }
        let state = State()
        let group = DispatchGroup()
        for _ in 0..<min(width, count) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while true {
                    let i: Int? = state.lock.withLock {
                        guard state.firstError == nil, state.next < count else { return nil }
                        state.next += 1
                        return state.next - 1
                    }
                    guard let i else { return }
                    do {
                        try body(i)
                    } catch {
                        state.lock.withLock { if state.firstError == nil { state.firstError = error } }
                    }
                }
            }
            thread.start()
        }
        group.wait()
        if let error = state.firstError { throw error }
    }
}
