import Foundation
import PipeData
import PipeEngine
import PipeModel
import PipeRecipe
import PipeTensor
import PipeTraining

/// `kind: evaluate`: scores the `policy` input (an sft, grpo or at-grpo artifact) on a split of the
/// `dataset` input, clean and under attacks. Output: `metrics.json` (accuracy overall, by modality,
/// by question type and on the modality x question-type grid, format compliance, mean completion
/// length, accuracy under each attack and eps, Med-R2's misleading cues and stepwise consistency),
/// `report.md`, `attacks.csv`, `predictions.jsonl`.
public struct EvaluateKind: StageKind {
    public let name = "evaluate"
    public let version = 2

    public init() {}

    /// The budgets evaluated by default: 1, 2, 4 and 8 / 255.
    static let defaultBudgets: [Value] = [1.0, 2.0, 4.0, 8.0].map { Value.double($0 / 255) }

    static let attackOptions = OptionSchema([
        .init("methods", .textList(AttackSettings.Method.allCases.map(\.rawValue)), default: .list([]),
              help: "attacks to run: fgsm, pgd_linf, pgd_l2 (none by default)"),
        .init("eps", .numberList(0...1000), default: .list(defaultBudgets), help: "budgets on [0, 1] pixels, each method at each"),
        .init("steps", .int(1...1000), default: .int(10), help: "PGD steps"),
        .init("limit", .int(0...10_000_000), default: .int(0), help: "records to attack, evenly spread over the scored ones (0: all)"),
        .init("alpha_ratio", .number(0...100), default: .double(0.25), help: "PGD step size as a fraction of eps (torchattacks: 2/255 at 8/255)"),
        .init("random_start", .bool, default: .bool(true), help: "start PGD at a random point of the ball"),
    ])

    public var schema: OptionSchema? {
        OptionSchema([
            .init("split", .text(["train", "val", "test"]), default: .string("test"), help: "the split to score"),
            .init("limit", .int(0...10_000_000), default: .int(0), help: "records to score, evenly spread over the split (0: all)"),
            .init("reasoning", .text(["auto"] + ReasoningMode.allCases.map(\.rawValue)), default: .string("auto"),
                  help: "prompt format; auto: the one the policy was trained with"),
            .init("max_new_tokens", .int(1...4096), default: .int(64), help: "tokens to generate per answer"),
            .init("attack", .group(Self.attackOptions), default: nil, help: "adversarial evaluation"),
        ])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let o = stage.options
        for role in ["dataset", "policy"] where !stage.stage.inputs.contains(where: { $0.role == role }) {
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name)",
                              "an evaluate stage needs `inputs: {dataset: STAGE, policy: STAGE}` (an unpack stage and a training stage); `\(role)` is missing")
        }
        let attack = o["attack"]
        var attacks: [AttackSettings] = []
        for method in (attack?["methods"]?.texts ?? []).compactMap(AttackSettings.Method.init(rawValue:)) {
            for eps in attack?["eps"]?.numbers ?? [] {
                attacks.append(AttackSettings(method: method, eps: eps, alpha: eps * (attack?["alpha_ratio"]?.number ?? 0.25),
                                              steps: method == .fgsm ? 1 : attack?["steps"]?.integer ?? 10,
                                              randomStart: method != .fgsm && (attack?["random_start"]?.flag ?? true)))
            }
        }
        return EvaluateAction(split: o["split"]?.text ?? "test", limit: o["limit"]?.integer ?? 0, reasoning: o["reasoning"]?.text ?? "auto",
                              maxNewTokens: o["max_new_tokens"]?.integer ?? 64, attacks: attacks,
                              attackLimit: attack?["limit"]?.integer ?? 0, seed: UInt64(stage.seed))
    }
}

struct EvaluateAction: JobAction {
    var split: String
    var limit: Int
    var reasoning: String
    var maxNewTokens: Int
    var attacks: [AttackSettings]
    var attackLimit: Int
    var seed: UInt64

    func run(_ context: JobContext) throws {
        BLAS.setThreads(1)
        try TrainingKindSupport.reportingProblems {
            let dataset = try VQADataset(directory: context.inputDirectories["dataset"] ?? "")
            let checkpoint = try Checkpoint.read(from: (context.inputDirectories["policy"] ?? "") + "/" + Checkpoint.fileName)
            let trained = checkpoint.info["pipe.reasoning"] ?? "cot"
            guard let mode = ReasoningMode(rawValue: reasoning == "auto" ? trained : reasoning) else {
                throw JobFailure("the policy's checkpoint names an unknown reasoning mode `\(trained)`; set `reasoning:` on the evaluate stage")
            }
            let splitValue = Split(rawValue: split) ?? .test
            let entries = SFTTrainer.spread(dataset.records(splitValue), limit: limit)
            let evaluation = PolicyEvaluation(mode: mode, maxNewTokens: maxNewTokens, attacks: attacks, attackLimit: attackLimit,
                                          threads: TrainingThreads.count, seed: seed)
            let (report, predictions) = try evaluation.run(checkpoint, on: dataset, entries: entries, split: split, log: context.log)
            let out = context.outputDirectory
            try TrainingKindSupport.writeJSON(report, to: out + "/metrics.json")
            try PolicyEvaluation.markdown(report).write(toFile: out + "/report.md", atomically: false, encoding: .utf8)
            try PolicyEvaluation.attacksCSV(report).write(toFile: out + "/attacks.csv", atomically: false, encoding: .utf8)
            try Prediction.jsonLines(predictions).write(to: URL(fileURLWithPath: out + "/predictions.jsonl"))
        }
    }
}
