import Foundation
import PipeData
import PipeEngine
import PipeModel
import PipeRecipe
import PipeTensor
import PipeTraining

/// `kind: smooth`: randomized-smoothing calibration (Cohen et al.) of the `policy` input on the
/// validation split of the `dataset` input. Each candidate sigma's smoothed policy (optionally after
/// noise-augmented fine-tuning) is certified with CERTIFY(n0, n, alpha); the best by `criterion` is
/// kept. Output: `smoothing.json` (sigma, n0, n, alpha, every candidate's certified accuracy),
/// `model.safetensors` (the policy to smooth with that sigma), `certificates.csv` (every
/// candidate's certificates), `timing.csv` (noisy samples per second per candidate).
public struct SmoothKind: StageKind {
    public let name = "smooth"
    public let version = 2

    public init() {}

    /// Certified-accuracy radii reported by default (L2 on [0, 1] pixels).
    static let defaultRadii: [Value] = [0, 0.125, 0.25, 0.5, 0.75, 1].map { Value.double($0) }

    public var schema: OptionSchema? {
        OptionSchema([
            .init("sigmas", .numberList(0.0001...100), default: .list([0.12, 0.25, 0.5].map { Value.double($0) }),
                  help: "candidate noise levels (std of the Gaussian on [0, 1] pixels)"),
            .init("criterion", .oneOf([.init("certified_accuracy_at", .number(0...1000)), .init("mean_radius", nil)]),
                  default: .map([("certified_accuracy_at", .double(0.25))]),
                  help: "how sigma is chosen: {certified_accuracy_at: RADIUS} or mean_radius"),
            .init("n0", .int(1...10_000_000), default: .int(100), help: "CERTIFY's selection samples per record"),
            .init("n", .int(1...100_000_000), default: .int(100_000), help: "CERTIFY's estimation samples per record"),
            .init("alpha", .number(1e-12...0.5), default: .double(0.001), help: "failure probability of each certificate"),
            .init("radii", .numberList(0...1000), default: .list(Self.defaultRadii), help: "radii the certified accuracy is reported at"),
            .init("split", .text(["train", "val", "test"]), default: .string("val"), help: "the split to calibrate on"),
            .init("limit", .int(0...10_000_000), default: .int(0), help: "records to certify, drawn from the split with a fixed seed (0: all)"),
            TrainingKindSupport.reasoningOption,
            .init("max_new_tokens", .int(1...4096), default: .int(96), help: "tokens decoded per noisy sample"),
            .init("batch_size", .int(1...4096), default: .int(32), help: "noisy samples decoded together"),
            .init("finetune", .group(OptionSchema([
                .init("epochs", .int(0...10_000), default: .int(0), help: "epochs of SFT on noisy images per candidate (0: none)"),
                .init("lr", .number(0...10), default: .double(1e-4), help: "peak learning rate"),
                .init("batch_size", .int(1...65_536), default: .int(16), help: "examples per optimizer step"),
                .init("micro_batch", .int(1...4096), default: .int(8), help: "examples per forward/backward pass"),
                .init("warmup_steps", .int(0...1_000_000), default: .int(0), help: "linear warm-up steps"),
            ])), default: nil, help: "noise-augmented fine-tuning of the policy before certifying (Cohen et al. train with the noise they certify with)"),
        ])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        try TrainingKindSupport.requireInputs([("dataset", "an unpack stage"), ("policy", "an sft, grpo or at-grpo stage")], of: stage)
        let o = stage.options
        let criterion: SmoothingCriterion = o["criterion"]?["certified_accuracy_at"]?.number.map { .certifiedAccuracyAt($0) } ?? .meanRadius
        var finetune = SFTConfig()
        let f = o["finetune"]
        finetune.epochs = f?["epochs"]?.integer ?? 0
        finetune.learningRate = Float(f?["lr"]?.number ?? 1e-4)
        finetune.batchSize = f?["batch_size"]?.integer ?? 16
        finetune.microBatch = f?["micro_batch"]?.integer ?? 8
        finetune.warmupSteps = f?["warmup_steps"]?.integer ?? 0
        finetune.seed = UInt64(stage.seed)
        let sigmas = o["sigmas"]?.numbers ?? [], n = o["n"]?.integer ?? 100_000, alpha = o["alpha"]?.number ?? 0.001
        if case .certifiedAccuracyAt(let radius) = criterion, let largest = sigmas.max(),
           RandomizedSmoothing.largestRadius(sigma: largest, n: n, alpha: alpha) < radius {
            // Every candidate would score 0 and the choice would be decided by the order of `sigmas`.
            let perSigma = RandomizedSmoothing.largestRadius(sigma: 1, n: n, alpha: alpha)
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name).with.criterion", String(
                format: "no sigma can certify radius %g with n %d and alpha %g (sigma %g reaches at most %.3f); raise n to at least %d%@, "
                    + "or lower the radius", radius, n, alpha, largest, largest * perSigma,
                RandomizedSmoothing.samplesToReach(radius: radius, sigma: largest, alpha: alpha),
                perSigma > 0 ? String(format: ", add a sigma of at least %.3f", radius / perSigma) : ""))
        }
        return SmoothAction(sigmas: sigmas, criterion: criterion, n0: o["n0"]?.integer ?? 100, n: n,
                            alpha: alpha, radii: o["radii"]?.numbers ?? [], split: o["split"]?.text ?? "val",
                            limit: o["limit"]?.integer ?? 0, reasoning: o["reasoning"]?.text ?? "auto",
                            maxNewTokens: o["max_new_tokens"]?.integer ?? 96, batchSize: o["batch_size"]?.integer ?? 32,
                            finetune: finetune, seed: UInt64(stage.seed))
    }
}

struct SmoothAction: JobAction {
    var sigmas: [Double]
    var criterion: SmoothingCriterion
    var n0: Int, n: Int, alpha: Double
    var radii: [Double]
    var split: String
    var limit: Int
    var reasoning: String
    var maxNewTokens: Int
    var batchSize: Int
    var finetune: SFTConfig
    var seed: UInt64

    func run(_ context: JobContext) throws {
        BLAS.setThreads(1)
        try TrainingKindSupport.reportingProblems {
            let (dataset, checkpoint, mode) = try TrainingKindSupport.policyInputs(context, reasoning: reasoning, stage: "smooth")
            let entries = SFTTrainer.spread(dataset.records(Split(rawValue: split) ?? .val), limit: limit)
            let calibration = SmoothingCalibration(sigmas: sigmas, criterion: criterion, n0: n0, n: n, alpha: alpha, radii: radii, mode: mode,
                                                   maxNewTokens: maxNewTokens, batchSize: batchSize, threads: TrainingThreads.count,
                                                   seed: seed, finetune: finetune)
            let outcome = try calibration.run(checkpoint, on: dataset, entries: entries, split: split, log: context.log,
                                              shouldStop: { context.cancellation.isCancelled })
            context.log(String(format: "chose sigma %.4g by %@", outcome.choice.sigma, criterion.description))
            let out = context.outputDirectory
            try TrainingKindSupport.writeJSON(outcome.choice, to: out + "/smoothing.json")
            try outcome.policy.write(to: out + "/" + Checkpoint.fileName)
            var certificates = Certificate.csvHeader(sigma: true) + "\n"
            for (sigma, certified) in zip(sigmas, outcome.certificates) { certificates += Certificate.csvRows(certified, sigma: sigma) }
            try certificates.write(toFile: out + "/certificates.csv", atomically: false, encoding: .utf8)
            let timing = ["sigma,samples,samples_per_s"] + zip(sigmas, outcome.samplesPerSecond).map {
                String(format: "%g,%d,%.2f", $0, entries.count * (n0 + n), $1)
            }
            try (timing.joined(separator: "\n") + "\n").write(toFile: out + "/timing.csv", atomically: false, encoding: .utf8)
        }
    }
}
