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
        guard let source = try openRegularFile(relative) else { return nil }
        defer { close(source) }
        let target = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard target >= 0 else { throw RemoteError.local("cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var info = stat()
        fstat(source, &info)
        if Int(info.st_size) >= Self.pipelinedSize {
            return try PipelinedCopy(source: source, target: target, size: Int(info.st_size), name: path(relative), file: file).run()
        }
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

    /// From this size on, a download copies in the kernel and hashes on another thread.
    static let pipelinedSize = 8 << 20

    /// A large object's download: one thread copies it in the kernel (`sendfile`, 8 MiB at a time)
    /// while the calling one hashes what has landed in the target file. The hash is of the target
    /// (a private temporary file), never of the source, which another writer could change between
    /// the two reads; the copy and the hash overlap, so the download costs about the hashing.
    private final class PipelinedCopy: @unchecked Sendable {
        let source: Int32, target: Int32, size: Int
        let name: String, file: String
        private let condition = NSCondition()
        private var copied = 0
        private var finished = false
        private var failure: RemoteError?

        init(source: Int32, target: Int32, size: Int, name: String, file: String) {
            (self.source, self.target, self.size, self.name, self.file) = (source, target, size, name, file)
        }

        func run() throws -> PipeEngine.Digest {
            let thread = Thread { [self] in copy() }
            thread.start()
            var hasher = SHA256()
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var hashed = 0
            while true {
                condition.lock()
                while copied == hashed && !finished { condition.wait() }
                let available = copied, done = finished, error = failure
                condition.unlock()
                if let error {
                    waitForCopy()
                    throw error
                }
                if available == hashed && done { break }
                while hashed < available {
                    let count = buffer.withUnsafeMutableBytes { pread(target, $0.baseAddress, min($0.count, available - hashed), off_t(hashed)) }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else {
                        waitForCopy()
                        throw RemoteError.local("cannot read back \(file): \(String(cString: strerror(errno)))")
                    }
                    hasher.update(data: buffer[..<count])
                    hashed += count
                }
            }
            return PipeEngine.Digest(hasher.finalize())
        }

        private func waitForCopy() {
            condition.lock()
            while !finished { condition.wait() }
            condition.unlock()
        }

        private func copy() {
            var offset = off_t(0)
            var error: RemoteError?
            while Int(offset) < size {
                let sent = sendfile(target, source, &offset, min(8 << 20, size - Int(offset)))
                if sent < 0 && errno == EINTR { continue }
                if sent < 0 {
                    error = RemoteError.transfer("cannot copy \(name) to \(file): \(String(cString: strerror(errno)))")
                    break
                }
                if sent == 0 { break }   // the source is shorter than it was: the hash will say so
                condition.withLock {
                    copied = Int(offset)
                    condition.signal()
                }
            }
            condition.withLock {
                failure = error
                finished = true
                condition.signal()
            }
        }
    }

    public func read(_ relative: String) throws -> Data? {
        guard let source = try openRegularFile(relative) else { return nil }
        let handle = FileHandle(fileDescriptor: source, closeOnDealloc: true)
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw RemoteError.transfer("cannot read \(path(relative)): \(error)")
        }
    }

    /// Opens a file of the remote for reading; nil when it does not exist. Anything that is not a
    /// regular file (a FIFO, a device, a socket, a directory, or a link to one) is refused before it
    /// is opened, and checked again on the open descriptor (opened with `O_NONBLOCK`), so a planted
    /// FIFO can never block a reader.
    private func openRegularFile(_ relative: String) throws -> Int32? {
        let file = path(relative)
        do {
            return try FileSystem.openRegularFile(file)
        } catch EngineError.specialFile(_, let what) {
            throw RemoteError.corrupt("\(file) on the remote is \(what), not a regular file; remove it from the remote")
        } catch {
            var info = stat()
            if stat(file, &info) != 0 && errno == ENOENT { return nil }
            throw RemoteError.transfer("cannot read \(file): \(error)")
        }
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
