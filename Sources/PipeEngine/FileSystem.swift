import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX helpers shared by the on-disk stores.
enum FileSystem {
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw EngineError.io("cannot create directory \(path): \(error.localizedDescription)")
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
            try data.write(to: URL(fileURLWithPath: temporary))
        } catch {
            unlink(temporary)
            throw EngineError.io("cannot write \(path) (\(error.localizedDescription)); is the disk full?")
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

    /// Removes a file tree, making read-only directories writable first.
    static func removeTree(_ path: String) {
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
