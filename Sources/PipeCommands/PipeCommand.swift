import ArgumentParser
import Foundation
import PipeLedger
import PipeRecipe
import PipeStages

/// `pipe`: declarative, cached, auditable experiment pipelines.
public struct PipeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pipe",
        abstract: "Run declarative experiment pipelines with a content-addressed cache.",
        version: PipeVersion.current,
        subcommands: [ValidateCommand.self, RunCommand.self, StatusCommand.self, DagCommand.self,
                      RunsCommand.self, ShowCommand.self, GetCommand.self, CacheCommand.self,
                      ReportCommand.self, AblateCommand.self, CompareCommand.self, AuditCommand.self,
                      ExecStageCommand.self, KindsCommand.self])

    public init() {}

    /// Parses the arguments, runs the command and exits: 0 success, 1 a stage failed, 2 usage or recipe error.
    public static func main(arguments: [String]) -> Never {
        Subprocess.closeInheritedDescriptorsOnExec()
        do {
            try RecipeOptions.checkRepeatedOptions(arguments)
            var command = try parseAsRoot(arguments)
            // pipe.yaml's `python:` for the torch backend (a bad pipe.yaml is reported by the commands that read it).
            TorchEnvironment.configuredInterpreter = (try? Project(cacheOption: nil).settings())?.python
            try command.run()
            Foundation.exit(0)
        } catch {
            let report = ErrorReport.render(error)
            if let text = report.text {
                if report.toStandardOutput { print(text) } else { Terminal.error(text) }
            }
            Foundation.exit(report.exitCode)
        }
    }
}

/// The version printed by `pipe --version` and recorded in the ledger.
public enum PipeVersion {
    public static let current = "0.1.0"
}
