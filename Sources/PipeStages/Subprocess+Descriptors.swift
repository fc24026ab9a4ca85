import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Subprocess {
    /// Marks every open descriptor above stderr close-on-exec, so that stage commands inherit only
    /// stdin, stdout and stderr. Without this, a descriptor `pipe` inherited (the write end of a
    /// `pipe run | tee`, say) would stay open in a stage's children after `pipe` exits.
    /// Call once at startup, before any thread spawns.
    public static func closeInheritedDescriptorsOnExec() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}
