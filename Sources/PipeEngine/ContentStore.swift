import Foundation

/// Bytes by digest: stage output files, tree listings and logs. Reads verify the digest.
public protocol ContentStore: AnyObject, Sendable {
    /// Whether an object is present (not verified).
    func contains(_ digest: Digest) -> Bool
    /// An object's bytes, verified against its digest.
    func read(_ digest: Digest) throws -> Data
    /// Stores bytes and returns their digest.
    @discardableResult func write(_ data: Data) throws -> Digest
    /// Moves a file of the caller's into the store (the file is consumed) and returns its digest.
    func ingest(fileAt path: String) throws -> (digest: Digest, size: Int)
    /// Moves a file of the caller's whose digest the caller has just computed into the store.
    func adopt(fileAt path: String, digest: Digest) throws
    /// Writes a verified copy of an object to `path` (a hard link where the store is on disk).
    func materialize(_ digest: Digest, to path: String, executable: Bool) throws
    /// Deletes an object (a corrupted or unreferenced one).
    func remove(_ digest: Digest) throws
    /// Every object in the store.
    func allObjects() throws -> [Digest]
    /// An object's size in bytes, if present.
    func size(of digest: Digest) -> Int?
}

/// A content store in memory, for tests and scratch work.
public final class MemoryContentStore: ContentStore, @unchecked Sendable {
    private var objects: [Digest: Data] = [:]
    private let lock = NSLock()

    public init() {}

    public func contains(_ digest: Digest) -> Bool { lock.withLock { objects[digest] != nil } }

    public func read(_ digest: Digest) throws -> Data {
        guard let data = lock.withLock({ objects[digest] }) else { throw EngineError.missingObject(digest) }
        guard Digest.of(data) == digest else { throw EngineError.corruptObject(digest, detail: "content does not match its digest") }
        return data
    }

    public func write(_ data: Data) throws -> Digest {
        let digest = Digest.of(data)
        lock.withLock { objects[digest] = data }
        return digest
    }

    public func ingest(fileAt path: String) throws -> (digest: Digest, size: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { throw EngineError.io("cannot read \(path)") }
        try FileManager.default.removeItem(atPath: path)
        return (try write(data), data.count)
    }

    public func adopt(fileAt path: String, digest: Digest) throws {
        guard try ingest(fileAt: path).digest == digest else { throw EngineError.corruptObject(digest, detail: "adopted file does not hash to its name") }
    }

    public func materialize(_ digest: Digest, to path: String, executable: Bool) throws {
        let data = try read(digest)
        guard FileManager.default.createFile(atPath: path, contents: data,
                                             attributes: [.posixPermissions: executable ? 0o555 : 0o444]) else {
            throw EngineError.io("cannot write \(path)")
        }
    }

    public func remove(_ digest: Digest) throws { _ = lock.withLock { objects.removeValue(forKey: digest) } }
    public func allObjects() throws -> [Digest] { lock.withLock { Array(objects.keys) } }
    public func size(of digest: Digest) -> Int? { lock.withLock { objects[digest]?.count } }

    /// Replaces an object's bytes without changing its name (to test corruption handling).
    public func corrupt(_ digest: Digest, with data: Data) { lock.withLock { objects[digest] = data } }
}
