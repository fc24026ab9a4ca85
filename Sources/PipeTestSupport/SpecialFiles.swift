import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// FIFOs, sockets and links to them, for tests that a reader refuses them instead of blocking.
public enum SpecialFiles {
    /// Creates a FIFO at `path`.
    public static func makeFIFO(at path: String) throws {
        guard mkfifo(path, 0o644) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    /// Creates a Unix socket bound at `path` (under 108 bytes); the descriptor stays open until exit.
    public static func makeSocket(at path: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard descriptor >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    /// Runs `body` on a thread of its own and returns its result, or nil if it has not returned
    /// within `seconds` (it is then left blocked), so that a hang fails a test instead of hanging it.
    public static func within<T>(seconds: Double, _ body: @escaping () throws -> T) -> Result<T, Error>? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try body() }
            done.signal()
        }
        thread.start()
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return box.result
    }

    /// Runs the `pipe` binary and returns its output, or nil after killing it if it has not
    /// finished within `seconds`.
    public static func runPipe(_ arguments: [String], in directory: String, seconds: Double = 20) throws -> PipeBinary.Output? {
        let (process, out, err) = try PipeBinary.start(arguments, in: directory)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            _ = PipeBinary.finish(process, out, err)
            return nil
        }
        return PipeBinary.finish(process, out, err)
    }
}

/// The result a thread hands back to `SpecialFiles.within`.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
