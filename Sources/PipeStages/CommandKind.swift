import Foundation
import PipeEngine
import PipeRecipe
#if canImport(Glibc)
import Glibc
#endif

/// `kind: command`: a shell command of the user's, with `$PIPE_OUT`, `$PIPE_IN_<role>`,
/// `$PIPE_SEED`, `$PIPE_PARAMS` (the resolved `with` as JSON) and the declared `env`.
/// It runs in the recipe's directory under `/bin/sh`, in a process group of its own.
public struct CommandKind: StageKind {
    public let name = "command"
    public let version = 1

    public init() {}

    public let summary = "runs a shell command of yours ($PIPE_OUT, $PIPE_IN_<role>, $PIPE_SEED, $PIPE_PARAMS)"

    public let inputs = [KindInput("ROLE", "any stages; each output directory is in $PIPE_IN_<role>", required: false)]

    public let outputs = [KindOutput("*", "whatever the command writes to $PIPE_OUT")]

    // No schema: `with` is free-form for commands and reaches the command as `$PIPE_PARAMS`.

    public func action(for stage: ResolvedStage) throws -> JobAction {
        CommandAction(command: stage.stage.command ?? "", workingDirectory: stage.recipeDirectory,
                      environment: stage.stage.env.map { ($0.name, $0.value) }, seed: stage.seed,
                      params: stage.options.json, stageName: stage.stage.name)
    }
}

/// Runs one shell command for a stage and waits for it.
struct CommandAction: JobAction {
    var command: String
    var workingDirectory: String
    var environment: [(String, String)]
    var seed: Int
    var params: String
    var stageName: String

    func run(_ context: JobContext) throws {
        let paramsPath = context.scratchDirectory + "/params.json"
        guard let file = fopen(paramsPath, "we") else { throw JobFailure("cannot write \(paramsPath)") }
        let written = fputs(params, file)
        guard fclose(file) == 0, written >= 0 else { throw JobFailure("cannot write \(paramsPath); is the disk full?") }
        var variables = ProcessInfo.processInfo.environment
        for (name, value) in environment { variables[name] = value }
        variables["PIPE_OUT"] = context.outputDirectory
        variables["PIPE_SEED"] = String(seed)
        variables["PIPE_PARAMS"] = paramsPath
        variables["PIPE_STAGE"] = stageName
        variables["PIPE_SCRATCH"] = context.scratchDirectory
        variables["PIPE_PROGRESS"] = context.progressPath
        for (role, directory) in context.inputDirectories { variables["PIPE_IN_" + role] = directory }
        let quotedDirectory = "'" + workingDirectory.replacingOccurrences(of: "'", with: "'\\''") + "'"
        let script = "cd -- \(quotedDirectory) || exit 127\n" + command
        let status = try Subprocess.run(["/bin/sh", "-c", script], environment: variables, logPath: context.logPath,
                                        cancellation: context.cancellation)
        switch status {
        case .exited(0): return
        case .exited(let code): throw JobFailure("command exited with status \(code)")
        case .signaled(let signal): throw JobFailure("command was killed by signal \(signal)")
        }
    }
}
