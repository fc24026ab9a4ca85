import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX helpers shared by the on-disk stores.
public enum FileSystem {
    /// `mkdir -p`.
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        if errno == ENOENT {
            try makeDirectory((path as NSString).deletingLastPathComponent)
            if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        }
        throw EngineError.io("cannot create directory \(path): \(String(cString: strerror(errno)))")
    }

    /// `mkdir` of one directory that must not exist yet (an existing path, even a link, is an error).
    static func makeNewDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 else {
            let reason = errno == EEXIST ? "it already exists" : String(cString: strerror(errno))
            throw EngineError.io("cannot create directory \(path): \(reason)")
        }
    }

    /// `stat` (links followed), as a thrown error when it fails.
    static func status(of path: String) throws -> stat {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw EngineError.io(errno == ENOENT ? "no such file or directory" : "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        return info
    }

    /// What a file is, for messages: "a FIFO", "a character device"...
    public static func describe(mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    /// Opens a regular file for reading without ever blocking on something else: `stat` (or `lstat`
    /// when `followingLinks` is false) first, then `open` with `O_NONBLOCK` and `fstat` again, so a
    /// FIFO, device or socket (or one swapped in meanwhile) is refused, never read.
    public static func openRegularFile(_ path: String, followingLinks: Bool = true) throws -> Int32 {
        var info = stat()
        guard (followingLinks ? stat(path, &info) : lstat(path, &info)) == 0 else {
            throw EngineError.io("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw EngineError.specialFile(path, describe(mode: info.st_mode)) }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (followingLinks ? 0 : O_NOFOLLOW))
        guard descriptor >= 0 else { throw EngineError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw EngineError.specialFile(path, describe(mode: info.st_mode))
        }
        return descriptor
    }

    /// A regular file's bytes (links not followed), read with `openRegularFile`.
    static func readRegularFile(_ path: String) throws -> Data {
        let descriptor = try openRegularFile(path, followingLinks: false)
        defer { close(descriptor) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw EngineError.io("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            data.append(contentsOf: buffer[..<count])
        }
    }

    /// Writes bytes to a new file with plain POSIX calls (no fsync: callers rename the file into
    /// place, and every read verifies content against its digest).
    static func write(_ data: Data, toNewFile path: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw EngineError.io("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw EngineError.io("cannot write \(path): \(String(cString: strerror(errno))); is the disk full?")
                }
                offset += n
            }
        }
    }

    /// A fresh, unused path in `directory`.
    static func temporaryPath(in directory: String, suffix: String = "") -> String {
        "\(directory)/\(getpid())-\(UUID().uuidString.prefix(13))\(suffix)"
    }

    /// Copies a file's bytes to a new file with `mode`.
    static func copy(_ source: String, to target: String, mode: mode_t) throws {
        let input = try openRegularFile(source, followingLinks: false)
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard output >= 0 else { throw EngineError.io("cannot create \(target): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if count == 0 { break }
            guard count > 0 else { throw EngineError.io("cannot read \(source)") }
            var written = 0
            while written < count {
                let n = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + written, count - written) }
                guard n > 0 else { throw EngineError.io("cannot write \(target): \(String(cString: strerror(errno)))") }
                written += n
            }
        }
        fchmod(output, mode)
    }

    /// Writes `data` to `path` atomically: a temporary file in `temporaryDirectory`, then rename.
    static func writeAtomically(_ data: Data, to path: String, temporaryDirectory: String) throws {
        let temporary = temporaryPath(in: temporaryDirectory)
        do {
            try write(data, toNewFile: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            if errno == ENOENT {
                try makeDirectory((path as NSString).deletingLastPathComponent)
                if rename(temporary, path) == 0 { return }
            }
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw EngineError.io("cannot write \(path): \(reason)")
        }
    }

    /// Removes everything inside a directory, keeping the directory.
    static func removeContents(of path: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { removeTree(path + "/" + name) }
    }

    /// Removes a file tree, making read-only directories writable first.
    public static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            chmod(path, 0o755)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                removeTree(path + "/" + name)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Makes a materialized input tree read-only (directories 0555); its files are read-only objects.
    static func makeReadOnly(_ path: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { makeReadOnly(path + "/" + name) }
        }
        chmod(path, 0o555)
    }
}
