import ArgumentParser
import Foundation
import PipeLedger
import PipeRecipe

/// A problem a command reports to its user, outside a recipe (a missing file, an unknown stage
/// name, a remote or ledger that cannot be used): what is wrong, the fix, and the error from a
/// lower layer it stands for. Exit code 2. `ErrorReport` renders it, and every other error, in one
/// place.
struct UsageError: Error, CustomStringConvertible {
    /// What is wrong, quoting the offending value and saying where.
    var message: String
    /// A suggested fix.
    var hint: String?
    /// The error underneath, kept whole: its own hint is shown when this one has none.
    var cause: (any Error)?

    init(_ message: String, cause: (any Error)? = nil, hint: String? = nil) {
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// Stands for `cause` (a remote's configuration problem, say), whose text is the message.
    init(wrapping cause: any Error, hint: String? = nil) {
        self.init(Self.text(of: cause), cause: cause, hint: hint ?? Self.hint(of: cause))
    }

    /// `message`, then the cause's text when the message does not already say it, then the hint.
    var description: String {
        var text = message
        if let cause, !message.contains(Self.text(of: cause)) { text += ": " + Self.text(of: cause) }
        if let hint = hint ?? cause.flatMap(Self.hint(of:)) { text += "\n  hint: \(hint)" }
        return text
    }

    /// An error's text without its hint line.
    static func text(of error: any Error) -> String {
        if let error = error as? UsageError { return error.message }
        let text = "\(error)"
        guard let range = text.range(of: "\n  hint: ") else { return text }
        return String(text[..<range.lowerBound])
    }

    /// An error's hint: a `UsageError`'s or `RecipeError`'s own, or the `hint:` line of its text.
    static func hint(of error: any Error) -> String? {
        if let error = error as? UsageError { return error.hint ?? error.cause.flatMap(hint(of:)) }
        if let error = error as? RecipeError { return error.hint }
        let text = "\(error)"
        guard let range = text.range(of: "\n  hint: ") else { return nil }
        return String(text[range.upperBound...])
    }
}

/// How `pipe` reports an error that ends a command, and its exit code: 2 for a recipe or usage
/// problem (a recipe error at its file:line:column, anything else as `error: ...` with its hint),
/// the code `ExitCode` carries, and ArgumentParser's own for a bad command line (2 for a
/// validation failure).
enum ErrorReport {
    struct Rendered {
        /// What to print, nil for none (an `ExitCode`); on stdout when `toStandardOutput` (`--help`).
        var text: String?
        var toStandardOutput = false
        var exitCode: Int32
    }

    static func render(_ error: any Error) -> Rendered {
        switch error {
        case let error as RecipeError:
            return Rendered(text: error.description, exitCode: 2)
        case let error as UsageError:
            return Rendered(text: "error: " + error.description, exitCode: 2)
        case let error as LedgerError:
            return Rendered(text: "error: " + error.description, exitCode: 2)
        case let code as ExitCode:
            return Rendered(text: nil, exitCode: code.rawValue)
        default:
            let code = PipeCommand.exitCode(for: error)
            if code == .success { return Rendered(text: PipeCommand.fullMessage(for: error), toStandardOutput: true, exitCode: 0) }
            return Rendered(text: PipeCommand.fullMessage(for: error), exitCode: code == .validationFailure ? 2 : code.rawValue)
        }
    }
}
