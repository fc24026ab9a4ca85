import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// `posix_spawn` with stdout and stderr appended to a log file, stdin from /dev/null, and the child
/// in a process group of its own so that a cancellation reaches everything it started.
public enum Subprocess {
    enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    static func run(_ arguments: [String], environment: [String: String], logPath: String,
                    cancellation: Cancellation) throws -> Termination {
        let pid: pid_t
        do {
            pid = try Spawn.start(arguments, environment: environment, logPath: logPath, newProcessGroup: true)
        } catch let failure as Spawn.Failure {
            throw JobFailure(failure.description)
        }
        if !cancellation.register(processGroup: pid) { kill(-pid, SIGTERM) }
        defer { cancellation.unregister(processGroup: pid) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw JobFailure("cannot wait for the command: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}
