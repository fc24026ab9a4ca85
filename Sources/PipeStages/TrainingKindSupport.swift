import Foundation
import PipeEngine
import PipeModel
import PipeRecipe
import PipeTraining

/// The worker threads training stages use: `PIPE_THREADS`, else every core. Results do not depend on
/// it (gradients are summed in a fixed order over fixed micro-batches), so it is not part of the key.
public enum TrainingThreads {
    public static var count: Int {
        if let text = ProcessInfo.processInfo.environment["PIPE_THREADS"], let n = Int(text), n >= 1 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }
}

/// What the training and evaluation kinds (`sft`, `grpo`, `at-grpo`, `evaluate`) share.
enum TrainingKindSupport {
    /// The prompt format for `checkpoint` given the `reasoning:` option.
    static func mode(_ reasoning: String, for checkpoint: Checkpoint, stage: String) throws -> ReasoningMode {
        let trained = checkpoint.info["pipe.reasoning"] ?? "cot"
        guard let mode = ReasoningMode(rawValue: reasoning == "auto" ? trained : reasoning) else {
            throw JobFailure("the policy's checkpoint names an unknown reasoning mode `\(trained)`; set `reasoning:` on the \(stage) stage")
        }
        return mode
    }

    /// The `dataset` and `policy` inputs of a kind that reads a policy, and its prompt format.
    static func policyInputs(_ context: JobContext, reasoning: String, stage: String) throws -> (VQADataset, Checkpoint, ReasoningMode) {
        let dataset = try VQADataset(directory: context.inputDirectories["dataset"] ?? "")
        let checkpoint = try Checkpoint.read(from: (context.inputDirectories["policy"] ?? "") + "/" + Checkpoint.fileName)
        return (dataset, checkpoint, try mode(reasoning, for: checkpoint, stage: stage))
    }

    /// Checks that `stage` has an input for each of the kind's required roles, naming what each should be.
    static func requireInputs(of kind: any StageKind, _ stage: ResolvedStage) throws {
        let roles = kind.inputs.filter(\.required)
        for role in roles.map(\.role) where !stage.stage.inputs.contains(where: { $0.role == role }) {
            let wanted = roles.map { "\($0.role): STAGE" }.joined(separator: ", ")
            let kinds = roles.map(\.what).joined(separator: " and ")
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name)",
                              "\("aeiou".contains(stage.stage.kind.prefix(1)) ? "an" : "a") \(stage.stage.kind) stage needs `inputs: {\(wanted)}` (\(kinds)); `\(role)` is missing")
        }
    }

    /// Runs `body`, turning a training or model problem into the stage's failure message.
    static func reportingProblems(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as TrainingError {
            throw JobFailure(error.description)
        } catch let error as ModelError {
            throw JobFailure(error.description)
        }
    }

    /// A CSV file at `path`: `header`, then one line per row, each line ending in a newline.
    static func writeCSV(header: String, rows: [String], to path: String) throws {
        try ([header] + rows).joined(separator: "\n").appending("\n").write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// `value` as pretty JSON with sorted keys (deterministic bytes) at `path`.
    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    }
}
