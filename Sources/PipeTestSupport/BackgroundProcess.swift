import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// A server a test starts in the foreground of a child process, its output in a log file; ready
/// when a check passes, stopped with a signal (and SIGKILL if it lingers).
///
/// Spawned with `Spawn` (posix_spawn, signals unblocked), not Foundation's `Process`: daemons that
/// close every inherited descriptor (slurmctld does) look exited to `Process`, whose monitor thread
/// then blocks in `waitpid` on them and never reaps any other child again.
public final class BackgroundProcess {
    /// Why a test server could not be started (not installed, or it did not come up).
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public let name: String
    public let logPath: String
    private var pid: pid_t = 0
    private var exited = false

    /// Starts `binary` with `arguments`, stdout and stderr appended to `logPath`.
    public init(_ binary: String, _ arguments: [String], log logPath: String, directory: String? = nil,
                environment: [String: String]? = nil) throws {
        name = URL(fileURLWithPath: binary).lastPathComponent
        self.logPath = logPath
        let variables = environment ?? ProcessInfo.processInfo.environment
        // In another directory: through `sh -c 'cd DIR && exec ...'` (exec keeps the pid).
        let command = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0, binary] } ?? [binary]
        do {
            pid = try Spawn.start(command + arguments, environment: variables, logPath: logPath, newProcessGroup: true)
        } catch {
            throw Unavailable("\(error)")
        }
    }

    deinit { stop() }

    public var isRunning: Bool {
        guard pid > 0, !exited else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// Waits until `ready` holds (true), the process exits or `timeout` passes (false).
    public func wait(timeout: Double, until ready: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ready() { return true }
            guard isRunning else { return false }
            usleep(25_000)
        }
        return false
    }

    /// The last `count` characters of the log, for an error message.
    public func logTail(_ count: Int = 600) -> String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(count))
    }

    /// Sends `signal` and waits for the exit (SIGKILL after 10 s).
    public func stop(signal: Int32 = SIGTERM) {
        guard isRunning else { return }
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(10)
        while isRunning {
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(10_000)
        }
    }

    /// Runs a command to its end; its exit status and standard output.
    public static func run(_ binary: String, _ arguments: [String], environment: [String: String]? = nil) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return (-1, "") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
