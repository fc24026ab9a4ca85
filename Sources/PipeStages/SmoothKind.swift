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
    public let version = 3

    public init() {}

    public let summary = "randomized-smoothing calibration: picks sigma by Clopper-Pearson certified accuracy (Cohen et al.)"

    public let inputs = [
        KindInput("dataset", "an unpack stage"),
        KindInput("policy", "an sft, grpo or at-grpo stage"),
    ]

    public let outputs = [
        KindOutput("smoothing.json", "the chosen sigma, n0, n, alpha, and every candidate's certified accuracy"),
        KindOutput("model.safetensors", "the policy to smooth with that sigma (fine-tuned on noise when `finetune` asks)"),
        KindOutput("certificates.csv", "every candidate's certificates"),
        KindOutput("timing.csv", "noisy samples per second per candidate"),
    ]

    /// Certified-accuracy radii reported by default (L2 on [0, 1] pixels).
    static let defaultRadii: [Double] = [0, 0.125, 0.25, 0.5, 0.75, 1]

    static let sigmas = OptionKey<[Double]>("sigmas", 0.0001...100, default: [0.12, 0.25, 0.5],
                                            help: "candidate noise levels (std of the Gaussian on [0, 1] pixels)")
    static let criterion = OptionKey<Value>("criterion", oneOf: [.init("certified_accuracy_at", .number(0...1000)), .init("mean_radius", nil)],
                                            default: .map([("certified_accuracy_at", .double(0.25))]),
                                            help: "how sigma is chosen: {certified_accuracy_at: RADIUS} or mean_radius")
    static let n0 = OptionKey<Int>("n0", 1...10_000_000, default: 100, help: "CERTIFY's selection samples per record")
    static let n = OptionKey<Int>("n", 1...100_000_000, default: 100_000, help: "CERTIFY's estimation samples per record")
    static let alpha = OptionKey<Double>("alpha", 1e-12...0.5, default: 0.001, help: "failure probability of each certificate")
    static let radii = OptionKey<[Double]>("radii", 0...1000, default: defaultRadii, help: "radii the certified accuracy is reported at")
    static let split = OptionKey<Split>("split", default: .val, help: "the split to calibrate on")
    static let limit = OptionKey<Int>("limit", 0...10_000_000, default: 0, help: "records to certify, drawn from the split with a fixed seed (0: all)")
    static let maxNewTokens = OptionKey<Int>("max_new_tokens", 1...4096, default: 96, help: "tokens decoded per noisy sample")
    static let batchSize = OptionKey<Int>("batch_size", 1...4096, default: 32, help: "noisy samples decoded together")

    /// The `finetune:` group: noise-augmented SFT of the policy per candidate.
    enum Finetune {
        static let epochs = OptionKey<Int>("epochs", 0...10_000, default: 0, help: "epochs of SFT on noisy images per candidate (0: none)")
        static let lr = OptionKey<Double>("lr", 0...10, default: 1e-4, help: "peak learning rate")
        static let batchSize = OptionKey<Int>("batch_size", 1...65_536, default: 16, help: "examples per optimizer step")
        static let microBatch = OptionKey<Int>("micro_batch", 1...4096, default: 8, help: "examples per forward/backward pass")
        static let warmupSteps = OptionKey<Int>("warmup_steps", 0...1_000_000, default: 0, help: "linear warm-up steps")
        static let group = OptionKey<OptionValues>(
            "finetune", group: [epochs, lr, batchSize, microBatch, warmupSteps],
            help: "noise-augmented fine-tuning of the policy before certifying (Cohen et al. train with the noise they certify with)")

        /// The fine-tuning settings (the rest of SFT's are the trainer's).
        static func config(_ o: OptionValues, seed: Int) throws -> SFTConfig {
            var config = SFTConfig()
            config.epochs = try o[epochs]
            config.learningRate = Float(try o[lr])
            config.batchSize = try o[batchSize]
            config.microBatch = try o[microBatch]
            config.warmupSteps = try o[warmupSteps]
            config.seed = UInt64(seed)
            return config
        }
    }

    public var schema: OptionSchema? {
        OptionSchema(keys: [Self.sigmas, Self.criterion, Self.n0, Self.n, Self.alpha, Self.radii, Self.split, Self.limit,
                            TrainingOptions.followedReasoning, Self.maxNewTokens, Self.batchSize, Finetune.group])
    }

    /// The `criterion` option: its one entry names the variant.
    static func choice(_ value: Value) -> SmoothingCriterion {
        if case .double(let radius)? = value["certified_accuracy_at"] { return .certifiedAccuracyAt(radius) }
        return .meanRadius
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        try TrainingKindSupport.requireInputs(of: self, stage)
        let o = stage.values
        let criterion = Self.choice(try o[Self.criterion])
        let sigmas = try o[Self.sigmas], n = try o[Self.n], alpha = try o[Self.alpha]
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
        return SmoothAction(sigmas: sigmas, criterion: criterion, n0: try o[Self.n0], n: n, alpha: alpha, radii: try o[Self.radii],
                            split: try o[Self.split], limit: try o[Self.limit], reasoning: try o[TrainingOptions.followedReasoning],
                            maxNewTokens: try o[Self.maxNewTokens], batchSize: try o[Self.batchSize],
                            finetune: try Finetune.config(try o[Finetune.group], seed: stage.seed), seed: UInt64(stage.seed))
    }
}

struct SmoothAction: JobAction {
    var sigmas: [Double]
    var criterion: SmoothingCriterion
    var n0: Int, n: Int, alpha: Double
    var radii: [Double]
    var split: Split
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
            let entries = Subset.spread(dataset.records(split), limit: limit)
            let calibration = SmoothingCalibration(sigmas: sigmas, criterion: criterion, n0: n0, n: n, alpha: alpha, radii: radii, mode: mode,
                                                   maxNewTokens: maxNewTokens, batchSize: batchSize, threads: TrainingThreads.count,
                                                   seed: seed, finetune: finetune)
            let outcome = try calibration.run(checkpoint, on: dataset, entries: entries, split: split.rawValue, log: context.log,
                                              shouldStop: { context.cancellation.isCancelled })
            context.log(String(format: "chose sigma %.4g by %@", outcome.choice.sigma, criterion.description))
            let out = context.outputDirectory
            try TrainingKindSupport.writeJSON(outcome.choice, to: out + "/smoothing.json")
            try outcome.policy.write(to: out + "/" + Checkpoint.fileName)
            var certificates = Certificate.csvHeader(sigma: true) + "\n"
            for (sigma, certified) in zip(sigmas, outcome.certificates) { certificates += Certificate.csvRows(certified, sigma: sigma) }
            try certificates.write(toFile: out + "/certificates.csv", atomically: false, encoding: .utf8)
            let timing = zip(sigmas, outcome.samplesPerSecond).map { String(format: "%g,%d,%.2f", $0, entries.count * (n0 + n), $1) }
            try TrainingKindSupport.writeCSV(header: "sigma,samples,samples_per_s", rows: timing, to: out + "/timing.csv")
        }
    }
}
