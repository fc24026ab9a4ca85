import Foundation
import PipeEngine
import PipeModel
import PipeRecipe
import PipeTraining

/// What the training and evaluation kinds (`sft`, `grpo`, `at-grpo`, `evaluate`) share.
enum TrainingKindSupport {
    /// The `eval:` group: greedy validation after training.
    static func evalOptions(maxNewTokens: Int) -> OptionSchema.Option {
        .init("eval", .group(OptionSchema([
            .init("limit", .int(0...10_000_000), default: .int(0), help: "validation records to score (0: all)"),
            .init("max_new_tokens", .int(1...4096), default: .int(maxNewTokens), help: "tokens to generate per answer"),
        ])), default: nil, help: "validation by greedy decoding")
    }

    /// The `reasoning:` option of the kinds that read a policy: `auto` follows its checkpoint.
    static let reasoningOption = OptionSchema.Option(
        "reasoning", .text(["auto"] + ReasoningMode.allCases.map(\.rawValue)), default: .string("auto"),
        help: "prompt format; auto: the one the policy was trained with")

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

    /// Checks that `stage` has an input for each role, naming what each should be.
    static func requireInputs(_ roles: [(role: String, what: String)], of stage: ResolvedStage) throws {
        for (role, _) in roles where !stage.stage.inputs.contains(where: { $0.role == role }) {
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

    /// `value` as pretty JSON with sorted keys (deterministic bytes) at `path`.
    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    }
}
