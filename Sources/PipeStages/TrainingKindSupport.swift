import Foundation
import PipeEngine
import PipeModel
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
