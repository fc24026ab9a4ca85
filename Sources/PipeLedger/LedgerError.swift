import Foundation
import GRDB

/// The run ledger cannot be used, in words: locked by another process, damaged, or not writable.
public struct LedgerError: Error, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// Another process held a write lock for longer than the busy timeout.
        case locked(seconds: Int)
        /// Not an SQLite database, or a damaged one.
        case damaged
        /// The file or its directory cannot be written (or opened).
        case notWritable
        case other
    }

    /// The ledger file.
    public var path: String
    public var problem: Problem
    /// What SQLite said.
    public var detail: String

    public init(path: String, problem: Problem, detail: String) {
        self.path = path
        self.problem = problem
        self.detail = detail
    }

    /// The error for SQLite's `error` on the ledger at `path`.
    init(_ error: DatabaseError, path: String, busySeconds: Int) {
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: self.init(path: path, problem: .locked(seconds: busySeconds), detail: detail)
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: self.init(path: path, problem: .damaged, detail: detail)
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH: self.init(path: path, problem: .notWritable, detail: detail)
        default: self.init(path: path, problem: .other, detail: detail)
        }
    }

    public var description: String {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let quotedDirectory = Self.shellQuoted(directory.isEmpty ? "." : directory)
        switch problem {
        case .locked(let seconds):
            return "the run ledger \(path) is locked by another pipe process (waited \(seconds) s)\n"
                + "  hint: wait for the other run to finish and try again; PIPE_LEDGER_TIMEOUT sets how many seconds to wait"
        case .damaged:
            return "the run ledger \(path) is damaged: \(detail)\n"
                + "  hint: move it aside, keeping the cache: mkdir \(quotedDirectory)/ledger.damaged && mv \(quotedDirectory)/ledger.sqlite* \(quotedDirectory)/ledger.damaged/\n"
                + "  the cache's objects and results stay valid; the next run starts a new ledger (without the old run history)"
        case .notWritable:
            return "cannot open the run ledger \(path): \(detail)\n"
                + "  hint: check that you may write the cache directory \(directory), or pass --cache DIR"
        case .other:
            return "the run ledger \(path): \(detail)"
        }
    }

    /// `text` in single quotes for a POSIX shell, unless it needs none.
    static func shellQuoted(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || "0123456789/._-+".unicodeScalars.contains($0) }
        return plain ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
