import Crypto
import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// A remote in a shared directory (an NFS mount, say), laid out like a local cache. Writes go to
/// `tmp/` under the root first and are renamed into place, so readers never see a partial file.
public final class DirectoryBackend: RemoteBackend, @unchecked Sendable {
    public let root: String
    public var displayName: String { root }

    public init(root: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RemoteError.unreachable("remote directory \(root) does not exist (is the share mounted?); create it to start a shared cache")
        }
        self.root = root
    }

    private func path(_ relative: String) -> String { root + "/" + relative }

    public func download(_ relative: String, to file: String) throws -> PipeEngine.Digest? {
        let source = open(path(relative), O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            if errno == ENOENT { return nil }
            throw RemoteError.transfer("cannot read \(path(relative)): \(String(cString: strerror(errno)))")
        }
        defer { close(source) }
        let target = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard target >= 0 else { throw RemoteError.local("cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(source, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw RemoteError.transfer("cannot read \(path(relative)): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            hasher.update(data: buffer[..<count])
            try buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset < count {
                    let written = Glibc.write(target, raw.baseAddress! + offset, count - offset)
                    guard written > 0 else { throw RemoteError.local("cannot write \(file): \(String(cString: strerror(errno)))") }
                    offset += written
                }
            }
        }
        return PipeEngine.Digest(hasher.finalize())
    }

    public func read(_ relative: String) throws -> Data? {
        guard FileManager.default.fileExists(atPath: path(relative)) else { return nil }
        guard let data = FileManager.default.contents(atPath: path(relative)) else {
            throw RemoteError.transfer("cannot read \(path(relative))")
        }
        return data
    }

    public func upload(file: String, to relative: String) throws {
        try place(relative) { temporary in
            let source = open(file, O_RDONLY | O_CLOEXEC)
            guard source >= 0 else { throw RemoteError.local("cannot read \(file): \(String(cString: strerror(errno)))") }
            defer { close(source) }
            let target = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard target >= 0 else { throw RemoteError.transfer("cannot create \(temporary): \(String(cString: strerror(errno)))") }
            defer { close(target) }
            var info = stat()
            fstat(source, &info)
            var remaining = Int(info.st_size)
            while remaining > 0 {
                let copied = sendfile(target, source, nil, remaining)
                if copied < 0 && errno == EINTR { continue }
                guard copied > 0 else { throw RemoteError.transfer("cannot copy \(file) to \(temporary): \(String(cString: strerror(errno)))") }
                remaining -= copied
            }
        }
    }

    public func upload(_ data: Data, to relative: String) throws {
        try place(relative) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: data) else {
                throw RemoteError.transfer("cannot write \(temporary)")
            }
        }
    }

    /// Writes a temporary file under `tmp/` with `write`, then renames it to `relative`.
    private func place(_ relative: String, write: (String) throws -> Void) throws {
        let temporaryDirectory = root + "/tmp"
        try? FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
        let temporary = temporaryDirectory + "/" + UUID().uuidString
        do {
            try write(temporary)
            let target = path(relative)
            try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard rename(temporary, target) == 0 else {
                throw RemoteError.transfer("cannot move \(temporary) to \(target): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    public func exists(_ relative: String) throws -> Bool { access(path(relative), F_OK) == 0 }

    public func list(_ relative: String) throws -> [String]? {
        (try? FileManager.default.contentsOfDirectory(atPath: path(relative))) ?? []
    }
}
