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
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw EngineError.io("cannot open \(source)") }
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
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
