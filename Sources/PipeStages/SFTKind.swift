import Foundation
import PipeEngine
import PipeModel
import PipeRecipe
import PipeTensor
import PipeTraining

/// `kind: sft`: supervised warm-up of the built-in policy on the `dataset` input (an `unpack`
/// artifact). Output: `model.safetensors`, `curves.csv` (loss, lr, grad norm per step), `timing.csv`
/// (seconds, tokens/s, examples/s per step: the one file a rerun does not reproduce), `metrics.json`, `predictions.jsonl` (each validation
/// answer: question id, modality, question type, true and predicted letters, the completion).
/// An optional `policy` input (an sft, grpo or at-grpo stage) is continued instead of a fresh model;
/// `adversarial:` trains on PGD images crafted against the current weights (Madry et al.).
public struct SFTKind: BackendKind {
    public let name = "sft"
    public let version = 4

    public init() {}

    public let summary = "supervised warm-up of the built-in vision-language policy (optionally adversarial)"

    public let inputs = [
        KindInput("dataset", "an unpack stage"),
        KindInput("policy", "an sft, grpo or at-grpo stage", required: false, note: "continued instead of a fresh model (its `model:` options are then ignored)"),
    ]

    public let outputs = [
        KindOutput("model.safetensors", "the trained policy (weights, tokenizer, shape, reasoning mode)"),
        KindOutput("curves.csv", "loss, learning rate and gradient norm per step"),
        KindOutput("timing.csv", "seconds, tokens/s and examples/s per step (the one file a rerun does not reproduce)"),
        KindOutput("metrics.json", "greedy validation accuracy (`validation`), steps, final loss, reasoning mode"),
        KindOutput("predictions.jsonl", "each validation answer: question id, modality, question type, true and predicted letters, completion"),
    ]

    static let reasoning = OptionKey<ReasoningMode>("reasoning", default: .cot,
                                                    help: "cot: <think> ... </think> <answer> X </answer>; instruct: <answer> X </answer>")
    static let epochs = OptionKey<Int>("epochs", 1...10_000, default: 2, help: "passes over the training split")
    static let batchSize = OptionKey<Int>("batch_size", 1...65_536, default: 32, help: "examples per optimizer step")
    static let microBatch = OptionKey<Int>("micro_batch", 1...4096, default: 8, help: "examples per forward/backward pass (gradient accumulation)")
    static let lr = OptionKey<Double>("lr", 0...10, default: 1e-3, help: "peak learning rate")
    static let warmupSteps = OptionKey<Int>("warmup_steps", 0...1_000_000, default: 20, help: "linear warm-up steps before the cosine decay")
    static let minLRRatio = OptionKey<Double>("min_lr_ratio", 0...1, default: 0.1, help: "final learning rate over the peak")
    static let weightDecay = OptionKey<Double>("weight_decay", 0...10, default: 0.01, help: "AdamW's decoupled weight decay (matrices only)")
    static let gradClip = OptionKey<Double>("grad_clip", 0...1e6, default: 1, help: "clip the global gradient norm to this (0: off)")
    static let shuffleOptions = OptionKey<Bool>(
        "shuffle_options", default: true,
        help: "reorder each question's options at random every epoch after the first (the answer letter moves with its text)")
    static let trainFraction = OptionKey<Double>(
        "train_fraction", 0.001...1, default: 1,
        help: "share of the training split's images to train on, with all their questions (the same images in every stage), e.g. a cold start before RL")

    /// The `adversarial:` group: the attack's options plus how much of each batch it replaces.
    enum Adversarial {
        static let fraction = OptionKey<Double>("fraction", 0...1, default: 1, help: "share of each batch whose image is attacked")
        static let epsWarmupSteps = OptionKey<Int>("eps_warmup_steps", 0...1_000_000, default: 0,
                                                   help: "steps over which eps and alpha ramp up linearly (0: none)")
        static let group = OptionKey<OptionValues>("adversarial", group: TrainingOptions.Attack.keys + [fraction, epsWarmupSteps],
                                                   help: "adversarial training: PGD images crafted against the current weights each step")
    }

    var swiftSchema: OptionSchema {
        OptionSchema(keys: [
            Self.reasoning, TrainingOptions.Model.group, Self.epochs, Self.batchSize, Self.microBatch, Self.lr, Self.warmupSteps,
            Self.minLRRatio, Self.weightDecay, Self.gradClip, Self.shuffleOptions, Self.trainFraction, Adversarial.group,
            TrainingOptions.Eval.group,
        ])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        if try TorchOptions.chosen(stage.stage) == .torch {
            try TrainingKindSupport.requireInputs(of: self, stage)
            return try TorchAction.make(kind: name, stage: stage)
        }
        var config = try Self.trainerConfig(stage.values)
        config.seed = UInt64(stage.seed)
        config.threads = TrainingThreads.count
        // A group resolves with its defaults filled in, so only a written `adversarial:` turns it on.
        if stage.stage.with[Adversarial.group.name] == nil { config.adversary = nil }
        // The image size comes from the dataset at run time; here only the rest of the shape is checked.
        var shape = config.model
        shape.imageSize = shape.patch
        if let problem = shape.problem {
            throw RecipeError(stage.stage.with[TrainingOptions.Model.group.name]?.location ?? stage.stage.location, path: "stages.\(stage.stage.name).with.model", problem)
        }
        try TrainingKindSupport.requireInputs(of: self, stage)
        return SFTAction(config: config)
    }

    /// The trainer's settings from the stage's options (with the adversary the `adversarial` group describes).
    static func trainerConfig(_ o: OptionValues) throws -> SFTConfig {
        var config = SFTConfig()
        config.mode = try o[reasoning]
        config.model = try TrainingOptions.Model.config(try o[TrainingOptions.Model.group])
        config.epochs = try o[epochs]
        config.batchSize = try o[batchSize]
        config.microBatch = try o[microBatch]
        config.learningRate = Float(try o[lr])
        config.warmupSteps = try o[warmupSteps]
        config.minLearningRateRatio = Float(try o[minLRRatio])
        config.weightDecay = Float(try o[weightDecay])
        config.gradClip = Float(try o[gradClip])
        config.shuffleOptions = try o[shuffleOptions]
        config.trainFraction = try o[trainFraction]
        let eval = try o[TrainingOptions.Eval.group]
        config.evalLimit = try eval[TrainingOptions.Eval.limit]
        config.evalMaxNewTokens = try eval[TrainingOptions.Eval.maxNewTokens]
        let adversarial = try o[Adversarial.group]
        config.adversary = AdversarialTraining(attack: try TrainingOptions.Attack.settings(adversarial), fraction: try adversarial[Adversarial.fraction],
                                               epsWarmupSteps: try adversarial[Adversarial.epsWarmupSteps])
        return config
    }
}

struct SFTAction: JobAction {
    var config: SFTConfig

    func run(_ context: JobContext) throws {
        BLAS.setThreads(1)
        let datasetDirectory = context.inputDirectories["dataset"] ?? ""
        try TrainingKindSupport.reportingProblems {
            let dataset = try VQADataset(directory: datasetDirectory)
            var config = config
            if let policy = context.inputDirectories["policy"] {
                config.initial = try Checkpoint.read(from: policy + "/" + Checkpoint.fileName)
            }
            let result = try SFTTrainer(config).train(on: dataset, log: context.log, shouldStop: { context.cancellation.isCancelled })
            let out = context.outputDirectory
            try result.checkpoint.write(to: out + "/" + Checkpoint.fileName)
            try TrainingKindSupport.writeCSV(header: CurvePoint.csvHeader, rows: result.curve.map(\.csv), to: out + "/curves.csv")
            try TrainingKindSupport.writeCSV(header: CurvePoint.timingHeader, rows: result.curve.map(\.timingCSV), to: out + "/timing.csv")
            let metrics = SFTMetrics(validation: result.validation, steps: result.curve.count,
                                     finalLoss: result.curve.last?.loss ?? 0, reasoning: config.mode.rawValue)
            try TrainingKindSupport.writeJSON(metrics, to: out + "/metrics.json")
            try Prediction.jsonLines(result.predictions).write(to: URL(fileURLWithPath: out + "/predictions.jsonl"))
            context.log(String(format: "trained in %.1f s, evaluated in %.1f s", result.trainSeconds, result.evalSeconds))
        }
    }
}

/// `metrics.json` of an sft stage. Only deterministic values (no timings), so the artifact is too.
struct SFTMetrics: Codable {
    var validation: EvaluationResult
    var steps: Int
    var finalLoss: Double
    var reasoning: String
}
