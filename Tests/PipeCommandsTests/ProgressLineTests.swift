import Foundation
import PipeTestSupport
import Testing

/// The live progress line on a terminal (a pseudo-terminal from `script`): a `command` stage's
/// `$PIPE_PROGRESS` line shows in it, and every redraw fits the terminal's width. (On Slurm: in
/// SlurmExecutorTests.)
struct ProgressLineTests {
    static let recipe = """
        pipe: 1
        name: steps
        stages:
          train:
            kind: command
            command: |
              for i in 1 2 3 4 5 6 7 8; do echo "step $i/8 loss 0.$i and a long tail of words to cut" > "$PIPE_PROGRESS"; sleep 0.3; done
              echo done > "$PIPE_OUT/model.txt"
        """

    /// Runs `pipe run steps.yaml` under a pseudo-terminal `columns` wide; the raw bytes it drew.
    static func runOnATerminal(_ project: CLIProject, columns: Int, options: String = "", environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-q", "-e", "-c", "cd '\(project.path)' && '\(PipeBinary.path)' run steps.yaml \(options)", "/dev/null"]
        var variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        variables["PIPE_CACHE"] = nil
        variables["COLUMNS"] = String(columns)
        variables["TERM"] = "xterm"
        process.environment = variables
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let drawn = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(String(decoding: drawn, as: UTF8.self))")
        return String(decoding: drawn, as: UTF8.self)
    }

    @Test func aCommandStagesProgressShowsAndEveryRedrawFitsANarrowTerminal() throws {
        let project = try CLIProject()
        try project.directory.write("steps.yaml", Self.recipe)
        let redraws = Self.redraws(try Self.runOnATerminal(project, columns: 48))
        #expect(redraws.contains { $0.contains("(step ") }, "\(redraws)")
        for line in redraws { #expect(line.count <= 47, "`\(line)` is \(line.count) characters wide") }
        #expect(redraws.contains { $0.hasSuffix("…") }, "a long line is cut with an ellipsis: \(redraws)")
    }

    /// The status lines drawn: each redraw is `\r ESC[K line`; permanent lines end in a newline.
    static func redraws(_ drawn: String) -> [String] {
        drawn.components(separatedBy: "\r\u{1b}[K").dropFirst()
            .map { $0.split(separator: "\n", omittingEmptySubsequences: false)[0].replacingOccurrences(of: "\r", with: "") }
            .filter { $0.hasPrefix("[") }
    }

    @Test func aWideTerminalShowsTheWholeLine() throws {
        let project = try CLIProject()
        try project.directory.write("steps.yaml", Self.recipe)
        let drawn = try Self.runOnATerminal(project, columns: 200)
        #expect(drawn.contains("loss 0.") && drawn.contains("a long tail of words to cut)"), "\(drawn)")
    }
}
