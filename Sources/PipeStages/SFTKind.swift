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
public struct SFTKind: StageKind {
    public let name = "sft"
    public let version = 4

    public init() {}

    /// The model options, shared by every training kind.
    static let modelOptions = OptionSchema([
        .init("dim", .int(8...4096), default: .int(128), help: "model width"),
        .init("heads", .int(1...64), default: .int(4), help: "attention heads (dim must be divisible by it)"),
        .init("layers", .int(1...64), default: .int(4), help: "decoder blocks"),
        .init("vision_layers", .int(0...64), default: .int(2), help: "vision encoder blocks"),
        .init("patch", .int(1...256), default: .int(8), help: "patch side in pixels (the image size must be divisible by it)"),
        .init("mlp_ratio", .int(1...16), default: .int(4), help: "MLP width over model width"),
        .init("max_len", .int(8...4096), default: .int(160), help: "most text tokens per sequence (prompt + response)"),
    ])

    public var schema: OptionSchema? {
        OptionSchema([
            .init("reasoning", .text(ReasoningMode.allCases.map(\.rawValue)), default: .string("cot"),
                  help: "cot: <think> ... </think> <answer> X </answer>; instruct: <answer> X </answer>"),
            .init("model", .group(Self.modelOptions), default: nil, help: "the policy's shape"),
            .init("epochs", .int(1...10_000), default: .int(2), help: "passes over the training split"),
            .init("batch_size", .int(1...65_536), default: .int(32), help: "examples per optimizer step"),
            .init("micro_batch", .int(1...4096), default: .int(8), help: "examples per forward/backward pass (gradient accumulation)"),
            .init("lr", .number(0...10), default: .double(1e-3), help: "peak learning rate"),
            .init("warmup_steps", .int(0...1_000_000), default: .int(20), help: "linear warm-up steps before the cosine decay"),
            .init("min_lr_ratio", .number(0...1), default: .double(0.1), help: "final learning rate over the peak"),
            .init("weight_decay", .number(0...10), default: .double(0.01), help: "AdamW's decoupled weight decay (matrices only)"),
            .init("grad_clip", .number(0...1e6), default: .double(1), help: "clip the global gradient norm to this (0: off)"),
            .init("shuffle_options", .bool, default: .bool(true),
                  help: "reorder each question's options at random every epoch after the first (the answer letter moves with its text)"),
            .init("train_fraction", .number(0.001...1), default: .double(1),
                  help: "share of the training split's images to train on, with all their questions (the same images in every stage), e.g. a cold start before RL"),
            .init("adversarial", .group(OptionSchema(GRPOKind.attackOptions + [
                .init("fraction", .number(0...1), default: .double(1), help: "share of each batch whose image is attacked"),
                .init("eps_warmup_steps", .int(0...1_000_000), default: .int(0), help: "steps over which eps and alpha ramp up linearly (0: none)"),
            ])), default: nil, help: "adversarial training: PGD images crafted against the current weights each step"),
            TrainingKindSupport.evalOptions(maxNewTokens: 96),
        ])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let options = stage.options
        var config = SFTConfig()
        config.mode = ReasoningMode(rawValue: options["reasoning"]?.text ?? "cot") ?? .cot
        config.model = Self.modelConfig(options["model"])
        config.epochs = options["epochs"]?.integer ?? 2
        config.batchSize = options["batch_size"]?.integer ?? 32
        config.microBatch = options["micro_batch"]?.integer ?? 8
        config.learningRate = Float(options["lr"]?.number ?? 1e-3)
        config.warmupSteps = options["warmup_steps"]?.integer ?? 20
        config.minLearningRateRatio = Float(options["min_lr_ratio"]?.number ?? 0.1)
        config.weightDecay = Float(options["weight_decay"]?.number ?? 0.01)
        config.gradClip = Float(options["grad_clip"]?.number ?? 1)
        config.shuffleOptions = options["shuffle_options"]?.flag ?? true
        config.trainFraction = options["train_fraction"]?.number ?? 1
        config.evalLimit = options["eval"]?["limit"]?.integer ?? 0
        config.evalMaxNewTokens = options["eval"]?["max_new_tokens"]?.integer ?? 96
        config.seed = UInt64(stage.seed)
        config.threads = TrainingThreads.count
        // A group resolves with its defaults filled in, so only a written `adversarial:` turns it on.
        if stage.stage.with["adversarial"] != nil, let adversarial = options["adversarial"] {
            config.adversary = AdversarialTraining(attack: GRPOKind.attack(adversarial), fraction: adversarial["fraction"]?.number ?? 1,
                                                   epsWarmupSteps: adversarial["eps_warmup_steps"]?.integer ?? 0)
        }
        // The image size comes from the dataset at run time; here only the rest of the shape is checked.
        var shape = config.model
        shape.imageSize = shape.patch
        if let problem = shape.problem {
            throw RecipeError(stage.stage.with["model"]?.location ?? stage.stage.location, path: "stages.\(stage.stage.name).with.model", problem)
        }
        try TrainingKindSupport.requireInputs([("dataset", "an unpack stage")], of: stage)
        return SFTAction(config: config)
    }

    static func modelConfig(_ options: Value?) -> ModelConfig {
        var model = ModelConfig()
        model.dim = options?["dim"]?.integer ?? model.dim
        model.heads = options?["heads"]?.integer ?? model.heads
        model.layers = options?["layers"]?.integer ?? model.layers
        model.visionLayers = options?["vision_layers"]?.integer ?? model.visionLayers
        model.patch = options?["patch"]?.integer ?? model.patch
        model.mlpRatio = options?["mlp_ratio"]?.integer ?? model.mlpRatio
        model.maxLen = options?["max_len"]?.integer ?? model.maxLen
        return model
    }
}

/// The worker threads training stages use: `PIPE_THREADS`, else every core. Results do not depend on
/// it (gradients are summed in a fixed order over fixed micro-batches), so it is not part of the key.
public enum TrainingThreads {
    public static var count: Int {
        if let text = ProcessInfo.processInfo.environment["PIPE_THREADS"], let n = Int(text), n >= 1 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
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
            try ([CurvePoint.csvHeader] + result.curve.map(\.csv)).joined(separator: "\n").appending("\n")
                .write(toFile: out + "/curves.csv", atomically: false, encoding: .utf8)
            try ([CurvePoint.timingHeader] + result.curve.map(\.timingCSV)).joined(separator: "\n").appending("\n")
                .write(toFile: out + "/timing.csv", atomically: false, encoding: .utf8)
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
