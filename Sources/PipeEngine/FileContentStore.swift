import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A content store in a directory: `objects/ab/cdef...`, read-only files, written by atomic rename
/// from `tmp/` on the same file system, so a crash never leaves a partial object under its name.
public final class FileContentStore: ContentStore, @unchecked Sendable {
    public let root: String
    let objectsDirectory: String
    let temporaryDirectory: String

    /// Opens (creating if needed) a store under `root`; temporary files go to `temporaryDirectory`.
    public init(root: String, temporaryDirectory: String) throws {
        self.root = root
        self.objectsDirectory = root + "/objects"
        self.temporaryDirectory = temporaryDirectory
        try FileSystem.makeDirectory(objectsDirectory)
        try FileSystem.makeDirectory(temporaryDirectory)
    }

    /// The file holding an object (present or not).
    public func path(of digest: Digest) -> String {
        let hex = digest.hex
        return "\(objectsDirectory)/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    public func contains(_ digest: Digest) -> Bool { access(path(of: digest), F_OK) == 0 }

    public func size(of digest: Digest) -> Int? {
        var info = stat()
        return stat(path(of: digest), &info) == 0 ? Int(info.st_size) : nil
    }

    public func read(_ digest: Digest) throws -> Data {
        let file = path(of: digest)
        let data: Data
        do {
            data = try FileSystem.readRegularFile(file)
        } catch let error as EngineError {
            if case .specialFile = error { throw EngineError.corruptObject(digest, detail: "\(error)") }
            if contains(digest) { throw EngineError.io("cannot read \(file)") }
            throw EngineError.missingObject(digest)
        }
        guard Digest.of(data) == digest else {
            throw EngineError.corruptObject(digest, detail: "\(file) does not hash to its name")
        }
        return data
    }

    /// An object already present is kept if it verifies and replaced if it does not.
    public func write(_ data: Data) throws -> Digest {
        let digest = Digest.of(data)
        if contains(digest), (try? read(digest)) != nil { return digest }
        let temporary = FileSystem.temporaryPath(in: temporaryDirectory)
        do {
            try FileSystem.write(data, toNewFile: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        try place(temporary, as: digest)
        return digest
    }

    public func ingest(fileAt file: String) throws -> (digest: Digest, size: Int) {
        let digest = try Digest.of(fileAt: file)
        var info = stat()
        guard stat(file, &info) == 0 else { throw EngineError.io("cannot stat \(file)") }
        try place(file, as: digest)
        return (digest, Int(info.st_size))
    }

    public func adopt(fileAt file: String, digest: Digest) throws {
        try place(file, as: digest)
    }

    /// Renames a finished file into place, read-only. Another writer may have placed the same object:
    /// the rename replaces it, which costs no more than deleting the new file, and repairs an object
    /// that was corrupted in place (the new file's digest has just been computed).
    private func place(_ file: String, as digest: Digest) throws {
        let target = path(of: digest)
        chmod(file, 0o444)
        if rename(file, target) != 0 {
            if errno == ENOENT {
                try FileSystem.makeDirectory((target as NSString).deletingLastPathComponent)
                if rename(file, target) == 0 { return }
            }
            let reason = String(cString: strerror(errno))
            unlink(file)
            throw EngineError.io("cannot store object \(digest.short): \(reason)")
        }
    }

    public func materialize(_ digest: Digest, to file: String, executable: Bool) throws {
        let source = path(of: digest)
        let actual: Digest
        do {
            actual = try Digest.of(fileAt: source, followingLinks: false)
        } catch let error as EngineError {
            if case .specialFile = error { throw EngineError.corruptObject(digest, detail: "\(error)") }
            throw contains(digest) ? EngineError.io("cannot read \(source)") : EngineError.missingObject(digest)
        }
        guard actual == digest else {
            throw EngineError.corruptObject(digest, detail: "\(source) does not hash to its name")
        }
        if executable {
            // The store's objects are not executable; an executable file gets its own copy.
            try FileSystem.copy(source, to: file, mode: 0o555)
        } else if link(source, file) != 0 {
            try FileSystem.copy(source, to: file, mode: 0o444)
        }
    }

    public func remove(_ digest: Digest) throws {
        if unlink(path(of: digest)) != 0 && errno != ENOENT {
            throw EngineError.io("cannot remove object \(digest.short): \(String(cString: strerror(errno)))")
        }
    }

    public func allObjects() throws -> [Digest] {
        var digests: [Digest] = []
        for prefix in (try? FileManager.default.contentsOfDirectory(atPath: objectsDirectory)) ?? [] where prefix.count == 2 {
            for rest in (try? FileManager.default.contentsOfDirectory(atPath: "\(objectsDirectory)/\(prefix)")) ?? [] {
                if let digest = Digest(hex: prefix + rest) { digests.append(digest) }
            }
        }
        return digests
    }
}
