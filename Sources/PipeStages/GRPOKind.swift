import Foundation
import PipeEngine
import PipeModel
import PipeRecipe
import PipeTensor
import PipeTraining

/// `kind: grpo`: Med-R1's GRPO on the policy from the `policy` input (an sft or grpo artifact) and
/// the `dataset` input. Output: `model.safetensors`, `curves.csv`, `timing.csv`, `metrics.json`,
/// `predictions.jsonl` (each validation answer: question id, letters, completion).
///
/// `kind: at-grpo` is SafeMed-R1's AT-GRPO: the same, with the images of a share of each step's
/// prompts replaced by PGD adversarial examples against the current policy before rollouts; its
/// curves add clean and adversarial reward and accuracy per step.
public struct GRPOKind: BackendKind {
    public let name: String
    public let version = 7   // 7: a group's completions share their image's pass (rounding differs)
    /// AT-GRPO rather than GRPO.
    public let adversarial: Bool

    public init(adversarial: Bool = false) {
        self.adversarial = adversarial
        name = adversarial ? "at-grpo" : "grpo"
    }

    public var summary: String {
        adversarial ? "adversarial GRPO (SafeMed-R1's AT-GRPO): rollouts on PGD-perturbed images for a share of each step's prompts"
                    : "Group Relative Policy Optimization (Med-R1) with format and accuracy rewards and a KL penalty"
    }

    public var inputs: [KindInput] {
        [
            KindInput("dataset", "an unpack stage", note: "GRPO samples from its training split"),
            KindInput("policy", "an sft, grpo or at-grpo stage", note: "the starting policy (also the frozen KL reference)"),
        ]
    }

    public var outputs: [KindOutput] {
        [
            KindOutput("model.safetensors", "the trained policy"),
            KindOutput("curves.csv", adversarial ? "per step: reward, accuracy, KL, clip fraction, ..., and clean and adversarial reward and accuracy"
                                                 : "per step: reward, format rate, accuracy, KL, clip fraction, entropy, learning rate, ..."),
            KindOutput("timing.csv", "seconds per step and per phase (the one file a rerun does not reproduce)"),
            KindOutput("metrics.json", "greedy validation accuracy (`validation`), as for sft"),
            KindOutput("predictions.jsonl", "each validation answer: question id, letters, completion"),
        ]
    }

    /// AT-GRPO's options on top of GRPO's.
    enum Adversarial {
        static let attack = OptionKey<OptionValues>("attack", group: TrainingOptions.Attack.keys,
                                                    help: "the attack crafted against the current policy each step")
        static let fraction = OptionKey<Double>("adversarial_fraction", 0...1, default: 0.5, help: "share of each step's prompts whose image is attacked")
        static let epsWarmupSteps = OptionKey<Int>("eps_warmup_steps", 0...1_000_000, default: 0,
                                                   help: "steps over which eps and alpha ramp up linearly (0: none)")
        static let nll = OptionKey<Double>("adversarial_nll", 0...1000, default: 0,
                                           help: "weight of the reference response's NLL on the attacked images, added to the GRPO loss (0: none)")
        static let keys: [any OptionDeclaration] = [attack, fraction, epsWarmupSteps, nll]

        static func training(_ o: OptionValues) throws -> AdversarialTraining {
            AdversarialTraining(attack: try TrainingOptions.Attack.settings(try o[attack]), fraction: try o[fraction],
                                epsWarmupSteps: try o[epsWarmupSteps], nllWeight: try o[nll])
        }
    }

    static let reasoning = OptionKey<ReasoningMode>("reasoning", default: .cot, help: "cot or instruct (rewards and prompts)")
    static let steps = OptionKey<Int>("steps", 1...1_000_000, default: 100, help: "optimizer steps")
    static let promptsPerStep = OptionKey<Int>("prompts_per_step", 1...4096, default: 8, help: "prompts per step")
    static let groupSize = OptionKey<Int>("group_size", 2...64, default: 4, help: "completions sampled per prompt (G)")
    static let temperature = OptionKey<Double>("temperature", 0.01...10, default: 1,
                                               help: "sampling temperature (log-probs in the loss use it too, as in TRL)")
    static let maxNewTokens = OptionKey<Int>("max_new_tokens", 1...4096, default: 96, help: "completion length limit")
    static let iterations = OptionKey<Int>("num_iterations", 1...64, default: 1, help: "updates per batch of rollouts")
    static let lr = OptionKey<Double>("lr", 0...10, default: 1e-4, help: "AdamW learning rate")
    static let warmupSteps = OptionKey<Int>("warmup_steps", 0...1_000_000, default: 0, help: "linear warm-up steps")
    static let adamEpsilon = OptionKey<Double>("adam_epsilon", 0...1, default: 1e-8,
                                               help: "AdamW's epsilon (larger damps steps of parameters with tiny gradients)")
    static let beta = OptionKey<Double>("beta", 0...100, default: 0.04, help: "weight of the KL to the starting policy (k3)")
    static let epsilon = OptionKey<Double>("epsilon", 0...10, default: 0.2, help: "lower clip range of the ratio")
    static let epsilonHigh = OptionKey<Double>("epsilon_high", 0...10, default: 0.2, help: "upper clip range of the ratio")
    static let lossType = OptionKey<GRPOLossType>("loss_type", default: .grpo, help: "token aggregation")
    static let topEntropyQuantile = OptionKey<Double>(
        "top_entropy_quantile", 0.001...1, default: 1,
        help: "share of each micro-batch's completion tokens, the highest-entropy ones, whose policy term is trained (KL: all); 1: all")
    static let scaleRewards = OptionKey<RewardScaling>("scale_rewards", default: .group, help: "advantage scaling")
    static let gradClip = OptionKey<Double>("grad_clip", 0...1e6, default: 1, help: "global gradient-norm clip (0: off)")
    static let microBatch = OptionKey<Int>("micro_batch", 1...4096, default: 8, help: "completions per forward/backward pass")

    var swiftSchema: OptionSchema {
        OptionSchema(keys: (adversarial ? Adversarial.keys : []) + [
            Self.reasoning, Self.steps, Self.promptsPerStep, Self.groupSize, Self.temperature, Self.maxNewTokens, Self.iterations,
            Self.lr, Self.warmupSteps, Self.adamEpsilon, Self.beta, Self.epsilon, Self.epsilonHigh, Self.lossType,
            Self.topEntropyQuantile, Self.scaleRewards, Self.gradClip, Self.microBatch, TrainingOptions.Eval.group,
        ])
    }

    /// On the torch backend: TRL's further loss types, sequence-level importance sampling and sampling options.
    enum Torch {
        static let lossType = OptionKey<String>(
            "loss_type", choices: GRPOLossType.allCases.map(\.rawValue) + ["cispo", "sapo", "luspo", "vespo"], default: GRPOLossType.grpo.rawValue,
            help: "token aggregation; on torch also TRL's cispo, sapo, luspo (with importance_sampling_level: sequence) and vespo")
        static let importanceSamplingLevel = OptionKey<String>("importance_sampling_level", choices: ["token", "sequence"], default: "token",
                                                               help: "TRL's importance ratios per token, or per sequence (GSPO)")
        static let delta = OptionKey<Double?>("delta", 1...1000, help: "TRL's upper bound on the ratio when the advantage is negative (two-sided clipping; null: none)")
        static let maskTruncated = OptionKey<Bool>("mask_truncated_completions", default: false,
                                                   help: "completions cut at max_new_tokens are left out of the loss (TRL)")
        static let topP = OptionKey<Double>("top_p", 0.001...1, default: 1, help: "nucleus sampling of rollouts (1: off)")
        static let topK = OptionKey<Int>("top_k", 0...1_000_000, default: 0, help: "top-k sampling of rollouts (0: off)")
        static let keys: [any OptionDeclaration] = [lossType, importanceSamplingLevel, delta, maskTruncated, topP, topK]
    }

    var torchOnlyOptions: [OptionSchema.Option] { Torch.keys.map(\.declaration) }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        try TrainingKindSupport.requireInputs(of: self, stage)
        if try TorchOptions.chosen(stage.stage) == .torch {
            guard !adversarial else {
                throw RecipeError(stage.stage.with[TorchOptions.backend.name]?.location ?? stage.stage.location, path: "stages.\(stage.stage.name).with.backend",
                                  "at-grpo does not run on the torch backend yet", hint: "use `backend: swift` (the default) for at-grpo stages")
            }
            return try TorchAction.make(kind: name, stage: stage)
        }
        var config = try trainerConfig(stage.values)
        config.seed = UInt64(stage.seed)
        config.threads = TrainingThreads.count
        return GRPOAction(config: config)
    }

    /// The trainer's settings from the stage's options.
    func trainerConfig(_ o: OptionValues) throws -> GRPOConfig {
        var config = GRPOConfig()
        config.mode = try o[Self.reasoning]
        config.steps = try o[Self.steps]
        config.promptsPerStep = try o[Self.promptsPerStep]
        config.groupSize = try o[Self.groupSize]
        config.temperature = Float(try o[Self.temperature])
        config.maxNewTokens = try o[Self.maxNewTokens]
        config.iterations = try o[Self.iterations]
        config.learningRate = Float(try o[Self.lr])
        config.warmupSteps = try o[Self.warmupSteps]
        config.adamEpsilon = Float(try o[Self.adamEpsilon])
        config.objective.beta = try o[Self.beta]
        config.objective.epsilonLow = try o[Self.epsilon]
        config.objective.epsilonHigh = try o[Self.epsilonHigh]
        config.objective.lossType = try o[Self.lossType]
        config.objective.scaleRewards = try o[Self.scaleRewards]
        config.objective.maxCompletionLength = config.maxNewTokens
        config.objective.topEntropyQuantile = try o[Self.topEntropyQuantile]
        config.gradClip = Float(try o[Self.gradClip])
        config.microBatch = try o[Self.microBatch]
        let eval = try o[TrainingOptions.Eval.group]
        config.evalLimit = try eval[TrainingOptions.Eval.limit]
        config.evalMaxNewTokens = try eval[TrainingOptions.Eval.maxNewTokens]
        if adversarial { config.adversary = try Adversarial.training(o) }
        return config
    }
}

struct GRPOAction: JobAction {
    var config: GRPOConfig

    func run(_ context: JobContext) throws {
        BLAS.setThreads(1)
        try TrainingKindSupport.reportingProblems {
            let dataset = try VQADataset(directory: context.inputDirectories["dataset"] ?? "")
            let policy = (context.inputDirectories["policy"] ?? "") + "/" + Checkpoint.fileName
            let start = try Checkpoint.read(from: policy)
            let result = try GRPOTrainer(config).train(from: start, on: dataset, log: context.log,
                                                       shouldStop: { context.cancellation.isCancelled })
            let out = context.outputDirectory
            try result.checkpoint.write(to: out + "/" + Checkpoint.fileName)
            let header = config.adversary == nil ? GRPOStep.csvHeader : GRPOStep.adversarialCSVHeader
            try TrainingKindSupport.writeCSV(header: header, rows: result.curve.map(\.csv), to: out + "/curves.csv")
            try TrainingKindSupport.writeCSV(header: "step,seconds," + GRPOStep.Phases.csvHeader,
                                             rows: result.curve.map { String(format: "%d,%.4f,", $0.step, $0.seconds) + $0.phases.csv },
                                             to: out + "/timing.csv")
            try TrainingKindSupport.writeJSON(["validation": result.validation], to: out + "/metrics.json")
            try Prediction.jsonLines(result.predictions).write(to: URL(fileURLWithPath: out + "/predictions.jsonl"))
        }
    }
}
