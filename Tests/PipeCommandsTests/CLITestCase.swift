import Foundation
import PipeTestSupport

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

    @discardableResult
    func pipe(_ arguments: String..., environment: [String: String] = [:]) throws -> PipeBinary.Output {
        try PipeBinary.run(arguments, in: path, environment: environment)
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
