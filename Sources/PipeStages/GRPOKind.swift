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
public struct GRPOKind: StageKind {
    public let name: String
    public let version = 7   // 7: a group's completions share their image's pass (rounding differs)
    /// AT-GRPO rather than GRPO.
    public let adversarial: Bool

    public init(adversarial: Bool = false) {
        self.adversarial = adversarial
        name = adversarial ? "at-grpo" : "grpo"
    }

    /// AT-GRPO's options on top of GRPO's.
    static let adversarialOptions: [OptionSchema.Option] = [
        .init("attack", .group(OptionSchema(attackOptions)), default: nil, help: "the attack crafted against the current policy each step"),
        .init("adversarial_fraction", .number(0...1), default: .double(0.5), help: "share of each step's prompts whose image is attacked"),
        .init("eps_warmup_steps", .int(0...1_000_000), default: .int(0), help: "steps over which eps and alpha ramp up linearly (0: none)"),
        .init("adversarial_nll", .number(0...1000), default: .double(0),
              help: "weight of the reference response's NLL on the attacked images, added to the GRPO loss (0: none)"),
    ]

    public var schema: OptionSchema? {
        OptionSchema((adversarial ? Self.adversarialOptions : []) + [
            .init("reasoning", .text(ReasoningMode.allCases.map(\.rawValue)), default: .string("cot"), help: "cot or instruct (rewards and prompts)"),
            .init("steps", .int(1...1_000_000), default: .int(100), help: "optimizer steps"),
            .init("prompts_per_step", .int(1...4096), default: .int(8), help: "prompts per step"),
            .init("group_size", .int(2...64), default: .int(4), help: "completions sampled per prompt (G)"),
            .init("temperature", .number(0.01...10), default: .double(1), help: "sampling temperature (log-probs in the loss use it too, as in TRL)"),
            .init("max_new_tokens", .int(1...4096), default: .int(96), help: "completion length limit"),
            .init("num_iterations", .int(1...64), default: .int(1), help: "updates per batch of rollouts"),
            .init("lr", .number(0...10), default: .double(1e-4), help: "AdamW learning rate"),
            .init("warmup_steps", .int(0...1_000_000), default: .int(0), help: "linear warm-up steps"),
            .init("adam_epsilon", .number(0...1), default: .double(1e-8), help: "AdamW's epsilon (larger damps steps of parameters with tiny gradients)"),
            .init("beta", .number(0...100), default: .double(0.04), help: "weight of the KL to the starting policy (k3)"),
            .init("epsilon", .number(0...10), default: .double(0.2), help: "lower clip range of the ratio"),
            .init("epsilon_high", .number(0...10), default: .double(0.2), help: "upper clip range of the ratio"),
            .init("loss_type", .text(GRPOLossType.allCases.map(\.rawValue)), default: .string("grpo"), help: "token aggregation"),
            .init("top_entropy_quantile", .number(0.001...1), default: .double(1),
                  help: "share of each micro-batch's completion tokens, the highest-entropy ones, whose policy term is trained (KL: all); 1: all"),
            .init("scale_rewards", .text(RewardScaling.allCases.map(\.rawValue)), default: .string("group"), help: "advantage scaling"),
            .init("grad_clip", .number(0...1e6), default: .double(1), help: "global gradient-norm clip (0: off)"),
            .init("micro_batch", .int(1...4096), default: .int(8), help: "completions per forward/backward pass"),
            TrainingKindSupport.evalOptions(maxNewTokens: 96),
        ])
    }

    /// The `at-grpo` options as settings.
    /// The PGD attack a training kind crafts against its current weights.
    static let attackOptions: [OptionSchema.Option] = [
        .init("norm", .text(["linf", "l2"]), default: .string("linf"), help: "PGD in the L-infinity or the L2 ball"),
        .init("eps", .number(0...1000), default: .null, help: "the ball's radius on [0, 1] pixels (default 8/255 for linf, 1 for l2)"),
        .init("alpha", .number(0...1000), default: .null, help: "step size (default 2/255 for linf, 0.2 for l2)"),
        .init("steps", .int(1...1000), default: .int(10), help: "PGD steps"),
        .init("random_start", .bool, default: .bool(true), help: "start at a random point of the ball"),
    ]

    /// The attack options (`attackOptions`) as settings.
    static func attack(_ attack: Value?) -> AttackSettings {
        let method: AttackSettings.Method = attack?["norm"]?.text == "l2" ? .pgdL2 : .pgdLinf
        var settings = AttackSettings.defaults(method)
        settings.eps = attack?["eps"]?.number ?? settings.eps
        settings.alpha = attack?["alpha"]?.number ?? settings.alpha
        settings.steps = attack?["steps"]?.integer ?? settings.steps
        settings.randomStart = attack?["random_start"]?.flag ?? true
        return settings
    }

    static func adversary(_ o: Value) -> AdversarialTraining {
        AdversarialTraining(attack: attack(o["attack"]), fraction: o["adversarial_fraction"]?.number ?? 0.5,
                                   epsWarmupSteps: o["eps_warmup_steps"]?.integer ?? 0, nllWeight: o["adversarial_nll"]?.number ?? 0)
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let o = stage.options
        var config = GRPOConfig()
        config.mode = ReasoningMode(rawValue: o["reasoning"]?.text ?? "cot") ?? .cot
        config.steps = o["steps"]?.integer ?? 100
        config.promptsPerStep = o["prompts_per_step"]?.integer ?? 8
        config.groupSize = o["group_size"]?.integer ?? 4
        config.temperature = Float(o["temperature"]?.number ?? 1)
        config.maxNewTokens = o["max_new_tokens"]?.integer ?? 96
        config.iterations = o["num_iterations"]?.integer ?? 1
        config.learningRate = Float(o["lr"]?.number ?? 1e-4)
        config.warmupSteps = o["warmup_steps"]?.integer ?? 0
        config.adamEpsilon = Float(o["adam_epsilon"]?.number ?? 1e-8)
        config.objective.beta = o["beta"]?.number ?? 0.04
        config.objective.epsilonLow = o["epsilon"]?.number ?? 0.2
        config.objective.epsilonHigh = o["epsilon_high"]?.number ?? 0.2
        config.objective.lossType = GRPOLossType(rawValue: o["loss_type"]?.text ?? "grpo") ?? .grpo
        config.objective.scaleRewards = RewardScaling(rawValue: o["scale_rewards"]?.text ?? "group") ?? .group
        config.objective.maxCompletionLength = config.maxNewTokens
        config.objective.topEntropyQuantile = o["top_entropy_quantile"]?.number ?? 1
        config.gradClip = Float(o["grad_clip"]?.number ?? 1)
        config.microBatch = o["micro_batch"]?.integer ?? 8
        config.evalLimit = o["eval"]?["limit"]?.integer ?? 0
        config.evalMaxNewTokens = o["eval"]?["max_new_tokens"]?.integer ?? 96
        config.seed = UInt64(stage.seed)
        config.threads = TrainingThreads.count
        if adversarial { config.adversary = Self.adversary(o) }
        try TrainingKindSupport.requireInputs([("dataset", "an unpack stage"), ("policy", "an sft, grpo or at-grpo stage")], of: stage)
        return GRPOAction(config: config)
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
            try ([header] + result.curve.map(\.csv)).joined(separator: "\n").appending("\n")
                .write(toFile: out + "/curves.csv", atomically: false, encoding: .utf8)
            try (["step,seconds," + GRPOStep.Phases.csvHeader] + result.curve.map { String(format: "%d,%.4f,", $0.step, $0.seconds) + $0.phases.csv })
                .joined(separator: "\n").appending("\n")
                .write(toFile: out + "/timing.csv", atomically: false, encoding: .utf8)
            try TrainingKindSupport.writeJSON(["validation": result.validation], to: out + "/metrics.json")
            try Prediction.jsonLines(result.predictions).write(to: URL(fileURLWithPath: out + "/predictions.jsonl"))
        }
    }
}
