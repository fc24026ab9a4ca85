import Foundation
import PipeEngine

/// The action cache `pipe run` uses with a remote: a local miss asks the remote (and fetches what
/// the result needs), a stored result is pushed. A remote that cannot be reached is reported once
/// and then left alone for the rest of the run, which goes on with the local cache; a corrupt
/// download is reported and the stage runs locally, and so is a record the trust policy does not
/// accept (once per signer). A result the run found only in the local cache (made before the remote
/// was configured, or while it was unreachable) is pushed when the run ends (`pushLocalHits()`).
public final class ReadThroughActionCache: ActionCache, @unchecked Sendable {
    let local: ActionCache
    public let remote: RemoteCache
    let warn: @Sendable (String) -> Void
    private let lock = NSLock()
    private var offline = false
    private var pushingDisabled = false
    private var warned = Set<String>()
    private var localHits: [Digest] = []
    private var storedUnpushed = 0

    public init(remote: RemoteCache, warn: @escaping @Sendable (String) -> Void) {
        self.local = remote.local.actions
        self.remote = remote
        self.warn = warn
    }

    /// The cache to run with: the local objects, this action cache, the local locks.
    public var cache: Cache {
        Cache(objects: remote.local.objects, actions: self, locks: remote.local.locks, temporaryDirectory: remote.local.temporaryDirectory)
    }

    public func hit(for key: Digest) throws -> (output: Digest, log: Digest?)? {
        if let hit = try local.hit(for: key), remote.local.objects.contains(hit.output) {
            lock.withLock { localHits.append(key) }
            return hit
        }
        // A local record whose output is gone is a miss too; the stage then runs again.
        guard let record = pulled(key) else { return nil }
        return (record.output, record.log)
    }

    public func record(for key: Digest) throws -> ActionRecord? {
        if let record = try local.record(for: key) { return record }
        return pulled(key)
    }

    public func store(_ record: ActionRecord) throws {
        try local.store(record)
        guard lock.withLock({ !offline && !pushingDisabled }) else {
            lock.withLock { storedUnpushed += 1 }
            return
        }
        do {
            try remote.push(record.key)
        } catch let error as RemoteError {
            lock.withLock {
                storedUnpushed += 1
                if error.isTransient { offline = true } else { pushingDisabled = true }
            }
            report("cannot push to \(remote.backend.displayName): \(error); later results stay local (`pipe cache push` sends them)")
        } catch {
            lock.withLock {
                storedUnpushed += 1
                pushingDisabled = true
            }
            report("cannot push to \(remote.backend.displayName): \(error); later results stay local")
        }
    }

    /// Pushes the results this run used from the local cache that the remote lacks (one record
    /// lookup each); returns how many were pushed and how many of the run's results are still only
    /// local because the remote could not take them (unreachable, refused).
    public func pushLocalHits() -> (pushed: Int, unpushed: Int) {
        let keys = lock.withLock { () -> [Digest] in
            var seen = Set<Digest>()
            return localHits.filter { seen.insert($0).inserted }
        }
        var pushed = 0, unpushed = 0
        for key in keys {
            guard lock.withLock({ !offline && !pushingDisabled }) else {
                unpushed += 1
                continue
            }
            do {
                if case .pushed = try remote.push(key) { pushed += 1 }
            } catch {
                lock.withLock { pushingDisabled = true }
                report("cannot push to \(remote.backend.displayName): \(error); results stay local (`pipe cache push` sends them)")
                unpushed += 1
            }
        }
        return (pushed, unpushed + lock.withLock { storedUnpushed })
    }

    public func remove(_ key: Digest) throws { try local.remove(key) }
    public func allKeys() throws -> [Digest] { try local.allKeys() }

    /// The remote's result for `key`, fetched; nil on a miss or any failure (reported).
    private func pulled(_ key: Digest) -> ActionRecord? {
        guard lock.withLock({ !offline }) else { return nil }
        do {
            return try remote.pull(key)
        } catch let error as RemoteError {
            if error.isTransient {
                lock.withLock { offline = true }
                report("remote \(remote.backend.displayName) is not answering (\(error)); continuing with the local cache")
            } else if case .corrupt = error {
                warn("warning: \(error); the stage runs locally")
            } else if case .untrusted(let distrust) = error {
                if remote.isFirstNotice(distrust) { warn("warning: \(distrust)") }
            } else {
                // Refused (403, a bad record...): it would be refused again for every stage.
                lock.withLock { offline = true }
                report("remote \(remote.backend.displayName): \(error); continuing with the local cache")
            }
        } catch {
            warn("warning: cannot use the remote result \(key.short): \(error); the stage runs locally")
        }
        return nil
    }

    /// Warns once per message.
    private func report(_ message: String) {
        guard lock.withLock({ warned.insert(message).inserted }) else { return }
        warn("warning: " + message)
    }
}
