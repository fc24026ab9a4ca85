import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mutual exclusion per cache key, across threads and (for the file locks) processes, so that no
/// key is computed twice at the same time.
public protocol KeyLocks: Sendable {
    /// Blocks until `key` is held; `waited` is true when another holder had it first.
    func acquire(_ key: Digest) throws -> (lease: KeyLease, waited: Bool)
}

/// A held key; released by `release()` or when its process dies.
public protocol KeyLease: AnyObject {
    func release()
}

/// `flock` on `locks/<key>` files: released by the kernel when the process dies, even by `kill -9`.
public final class FileKeyLocks: KeyLocks, @unchecked Sendable {
    let directory: String

    public init(root: String) throws {
        directory = root + "/locks"
        try FileSystem.makeDirectory(directory)
    }

    public func acquire(_ key: Digest) throws -> (lease: KeyLease, waited: Bool) {
        let path = "\(directory)/\(key.hex)"
        var waited = false
        while true {
            // O_CLOEXEC: a stage's child process must not inherit (and so keep holding) the lock.
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw EngineError.io("cannot open lock \(path): \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                waited = true
                while flock(fd, LOCK_EX) != 0 {
                    guard errno == EINTR else {
                        close(fd)
                        throw EngineError.io("cannot lock \(path): \(String(cString: strerror(errno)))")
                    }
                }
            }
            // `pipe cache gc` deletes lock files it holds; a lock taken on a deleted file is no lock.
            if Self.isCurrent(fd, path) { return (FileLease(fd: fd), waited) }
            close(fd)
        }
    }

    /// Whether `path` still names the file open as `fd`.
    static func isCurrent(_ fd: Int32, _ path: String) -> Bool {
        var open = stat(), named = stat()
        return fstat(fd, &open) == 0 && stat(path, &named) == 0 && open.st_ino == named.st_ino && open.st_dev == named.st_dev
    }

    /// Deletes the lock files nobody holds; returns how many.
    public func removeUnheld() -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0, Self.isCurrent(fd, path) {
                unlink(path)
                removed += 1
            }
            close(fd)
        }
        return removed
    }

    final class FileLease: KeyLease {
        private var fd: Int32
        init(fd: Int32) { self.fd = fd }
        func release() {
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        deinit { release() }
    }
}

/// Key locks within one process, for tests.
public final class MemoryKeyLocks: KeyLocks, @unchecked Sendable {
    private var held: Set<Digest> = []
    private let condition = NSCondition()

    public init() {}

    public func acquire(_ key: Digest) throws -> (lease: KeyLease, waited: Bool) {
        condition.lock()
        defer { condition.unlock() }
        var waited = false
        while held.contains(key) {
            waited = true
            condition.wait()
        }
        held.insert(key)
        return (MemoryLease(owner: self, key: key), waited)
    }

    fileprivate func release(_ key: Digest) {
        condition.lock()
        held.remove(key)
        condition.broadcast()
        condition.unlock()
    }

    final class MemoryLease: KeyLease {
        weak var owner: MemoryKeyLocks?
        var key: Digest?
        init(owner: MemoryKeyLocks, key: Digest) { self.owner = owner; self.key = key }
        func release() {
            if let key { owner?.release(key) }
            key = nil
        }
        deinit { release() }
    }
}
