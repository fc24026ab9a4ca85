import Foundation
import PipeTestSupport
import Testing

/// A failed step in a CLI test's setup.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A scratch project for one CLI test: the recipes of `Tests/PipeCommandsTests/Recipes` copied into
/// a temporary directory with a `pipe.yaml`, so the cache is `artifacts/` inside it.
final class CLIProject {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    init() throws {
        directory = try TemporaryDirectory("cli")
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Recipes").path
        let copy = Process()
        copy.executableURL = URL(fileURLWithPath: "/bin/cp")
        copy.arguments = ["-R", source + "/.", path]
        try copy.run()
        copy.waitUntilExit()
        try directory.write("pipe.yaml", "# project settings\n")
    }

    /// Runs the built `pipe` in the project, as a user of its own: the signing key lives in the
    /// project's `.config/` (`XDG_CONFIG_HOME`), so two projects are two colleagues.
    @discardableResult
    func pipe(_ arguments: String..., environment: [String: String] = [:]) throws -> PipeBinary.Output {
        try PipeBinary.run(arguments, in: path, environment: ["XDG_CONFIG_HOME": path + "/.config", "PIPE_SIGNING_KEY": ""]
                                                                .merging(environment) { $1 })
    }

    /// This project's user's public key line (`pipe cache key`).
    func publicKey() throws -> String {
        let output = try pipe("cache", "key")
        guard output.status == 0 else { throw CLIError(output.stderr) }
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `recipe` (written as `file`) with `--set setting` and checks that it is refused before
    /// anything runs: exit code 2, `message` on stderr, nothing written to the cache.
    func expectRefused(recipe: String, file: String, setting: String, message: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        try directory.write(file, recipe)
        let run = try pipe("run", file, "--set", setting)
        #expect(run.status == 2, sourceLocation: sourceLocation)
        #expect(run.stderr.contains(message), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: path + "/artifacts/objects"), "nothing is written", sourceLocation: sourceLocation)
    }

    /// Output with durations replaced by TIME and runs of spaces folded, for golden comparisons.
    static func normalize(_ text: String) -> String {
        let durations = try! NSRegularExpression(pattern: #"\b\d+(\.\d+)?(ms|s)\b|\b\d+m\d\ds\b"#)
        let range = NSRange(text.startIndex..., in: text)
        let replaced = durations.stringByReplacingMatches(in: text, range: range, withTemplate: "TIME")
        return replaced.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            .joined(separator: "\n")
    }
}
