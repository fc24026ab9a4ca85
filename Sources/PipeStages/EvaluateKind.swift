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
/// `report.md`, `attacks.csv`, `predictions.jsonl`; with `certify` (or a `smoothing` input, a smooth
/// stage whose sigma and CERTIFY settings it takes), randomized smoothing's certified accuracy at
/// each radius and the smoothed policy's accuracy, and `certificates.csv`.
public struct EvaluateKind: BackendKind {
    public let name = "evaluate"
    public let version = 10

    public init() {}

    public let summary = "clean, attacked, misleading-cue and certified accuracy of a policy on a split"

    public let inputs = [
        KindInput("dataset", "an unpack stage"),
        KindInput("policy", "a training stage", note: "an sft, grpo or at-grpo stage, or a smooth stage (its model.safetensors)"),
        KindInput("smoothing", "a smooth stage", required: false, note: "whose sigma and CERTIFY settings `certify` takes"),
    ]

    public let outputs = [
        KindOutput("metrics.json", "accuracy overall, by modality, by question type and on their grid, format compliance, "
                   + "completion length, accuracy under each attack and eps, misleading cues, stepwise consistency, certified accuracy"),
        KindOutput("report.md", "the same as tables"),
        KindOutput("attacks.csv", "accuracy per attack and eps"),
        KindOutput("predictions.jsonl", "each scored answer"),
        KindOutput("certificates.csv", "with certification: each record's smoothed prediction and certified radius"),
    ]

    /// The `attack:` group: adversarial evaluation.
    enum Attack {
        static let methods = OptionKey<[AttackSettings.Method]>("methods", default: [], help: "attacks to run: fgsm, pgd_linf, pgd_l2 (none by default)")
        /// The budgets evaluated by default: 1, 2, 4 and 8 / 255.
        static let eps = OptionKey<[Double]>("eps", 0...1000, default: [1.0, 2.0, 4.0, 8.0].map { $0 / 255 }, help: "budgets on [0, 1] pixels, each method at each")
        static let steps = OptionKey<Int>("steps", 1...1000, default: 10, help: "PGD steps")
        static let limit = OptionKey<Int>("limit", 0...10_000_000, default: 0, help: "records to attack, drawn from the scored ones with a fixed seed (0: all)")
        static let alphaRatio = OptionKey<Double>("alpha_ratio", 0...100, default: 0.25, help: "PGD step size as a fraction of eps (torchattacks: 2/255 at 8/255)")
        static let randomStart = OptionKey<Bool>("random_start", default: true, help: "start PGD at a random point of the ball")
        static let group = OptionKey<OptionValues>("attack", group: [methods, eps, steps, limit, alphaRatio, randomStart], help: "adversarial evaluation")

        /// Every method at every budget.
        static func settings(_ o: OptionValues) throws -> [AttackSettings] {
            let (ratio, steps, randomStart) = (try o[alphaRatio], try o[Self.steps], try o[Self.randomStart])
            var attacks: [AttackSettings] = []
            for method in try o[methods] {
                for eps in try o[Self.eps] {
                    attacks.append(AttackSettings(method: method, eps: eps, alpha: eps * ratio, steps: method == .fgsm ? 1 : steps,
                                                  randomStart: method != .fgsm && randomStart))
                }
            }
            return attacks
        }
    }

    /// The `certify:` group: randomized smoothing.
    enum Certify {
        static let sigma = OptionKey<Double?>("sigma", 0.0001...100, help: "noise level (default: the `smoothing` input's choice)")
        static let n0 = OptionKey<Int?>("n0", 1...10_000_000, help: "CERTIFY's selection samples (default: the smoothing input's, else 100)")
        static let n = OptionKey<Int?>("n", 1...100_000_000, help: "CERTIFY's estimation samples (default: the smoothing input's, else 100000)")
        static let alpha = OptionKey<Double?>("alpha", 1e-12...0.5, help: "failure probability (default: the smoothing input's, else 0.001)")
        static let predictN = OptionKey<Int>("predict_n", 0...100_000_000, default: 0, help: "PREDICT's samples per record (0: the same as n)")
        static let radii = OptionKey<[Double]>("radii", 0...1000, default: SmoothKind.defaultRadii, help: "L2 radii the certified accuracy is reported at")
        static let limit = OptionKey<Int>("limit", 0...10_000_000, default: 0, help: "records to certify, spread over the scored ones (0: all)")
        static let batchSize = OptionKey<Int>("batch_size", 1...4096, default: 32, help: "noisy samples decoded together")
        static let group = OptionKey<OptionValues>("certify", group: [sigma, n0, n, alpha, predictN, radii, limit, batchSize],
                                                   help: "randomized smoothing: certified accuracy (on with a `smoothing` input or a sigma)")

        static func request(_ o: OptionValues) throws -> CertifyRequest {
            CertifyRequest(sigma: try o[sigma], n0: try o[n0], n: try o[n], alpha: try o[alpha], predictN: try o[predictN],
                           radii: try o[radii], limit: try o[limit], batchSize: try o[batchSize])
        }
    }

    /// The `cues:` group: Med-R2's misleading-cue probes.
    enum Cues {
        static let limit = OptionKey<Int>("limit", 0...10_000_000, default: 0,
                                          help: "records probed with each misleading cue, drawn from the scored ones with a fixed seed (0: all)")
        static let group = OptionKey<OptionValues>("cues", group: [limit], help: "Med-R2's misleading-cue probes (a hint, shuffled options)")
    }

    static let split = OptionKey<Split>("split", default: .test, help: "the split to score")
    static let limit = OptionKey<Int>("limit", 0...10_000_000, default: 0, help: "records to score, drawn from the split with a fixed seed (0: all)")
    static let maxNewTokens = OptionKey<Int>("max_new_tokens", 1...4096, default: 96, help: "tokens to generate per answer")

    var swiftSchema: OptionSchema {
        OptionSchema(keys: [Self.split, Self.limit, TrainingOptions.followedReasoning, Self.maxNewTokens, Attack.group, Cues.group, Certify.group])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        if try TorchOptions.chosen(stage.stage) == .torch { return try torchAction(for: stage) }
        let o = stage.values
        try TrainingKindSupport.requireInputs(of: self, stage)
        let attack = try o[Attack.group]
        return EvaluateAction(split: try o[Self.split], limit: try o[Self.limit], reasoning: try o[TrainingOptions.followedReasoning],
                              maxNewTokens: try o[Self.maxNewTokens], attacks: try Attack.settings(attack),
                              attackLimit: try attack[Attack.limit], cueLimit: try o[Cues.group][Cues.limit], seed: UInt64(stage.seed),
                              certify: try Certify.request(try o[Certify.group]))
    }
}

struct EvaluateAction: JobAction {
    var split: Split
    var limit: Int
    var reasoning: String
    var maxNewTokens: Int
    var attacks: [AttackSettings]
    var attackLimit: Int
    var cueLimit: Int
    var seed: UInt64
    var certify: CertifyRequest

    func run(_ context: JobContext) throws {
        BLAS.setThreads(1)
        try TrainingKindSupport.reportingProblems {
            let (dataset, checkpoint, mode) = try TrainingKindSupport.policyInputs(context, reasoning: reasoning, stage: "evaluate")
            let smoothing = try context.inputDirectories["smoothing"].map { directory -> SmoothingChoice in
                guard let data = FileManager.default.contents(atPath: directory + "/smoothing.json"),
                      let choice = try? JSONDecoder().decode(SmoothingChoice.self, from: data) else {
                    throw JobFailure("the `smoothing` input has no readable smoothing.json; give a smooth stage as the `smoothing` input")
                }
                return choice
            }
            let entries = Subset.spread(dataset.records(split), limit: limit)
            let evaluation = PolicyEvaluation(mode: mode, maxNewTokens: maxNewTokens, attacks: attacks, attackLimit: attackLimit,
                                          cueLimit: cueLimit, threads: TrainingThreads.count, seed: seed, certification: certify.settings(smoothing))
            let output = try evaluation.run(checkpoint, on: dataset, entries: entries, split: split.rawValue, log: context.log)
            let report = output.report
            let out = context.outputDirectory
            try TrainingKindSupport.writeJSON(report, to: out + "/metrics.json")
            try PolicyEvaluation.markdown(report).write(toFile: out + "/report.md", atomically: false, encoding: .utf8)
            try PolicyEvaluation.attacksCSV(report).write(toFile: out + "/attacks.csv", atomically: false, encoding: .utf8)
            try Prediction.jsonLines(output.predictions).write(to: URL(fileURLWithPath: out + "/predictions.jsonl"))
            if report.smoothing != nil {
                try Certificate.csv(output.certificates).write(toFile: out + "/certificates.csv", atomically: false, encoding: .utf8)
            }
        }
    }
}

/// The `certify:` options as given; sigma, n0, n and alpha default to the `smoothing` input's.
struct CertifyRequest {
    var sigma: Double?
    var n0: Int?, n: Int?
    var alpha: Double?
    var predictN: Int
    var radii: [Double]
    var limit: Int
    var batchSize: Int

    /// The settings, or nil when neither a sigma nor a smoothing input asks for certification.
    func settings(_ smoothing: SmoothingChoice?) -> CertificationSettings? {
        guard let sigma = sigma ?? smoothing?.sigma else { return nil }
        // Without a smoothing input, CERTIFY's settings are the smooth kind's defaults.
        guard let n = self.n ?? smoothing?.n ?? SmoothKind.n.defaultValue, let n0 = n0 ?? smoothing?.n0 ?? SmoothKind.n0.defaultValue,
              let alpha = alpha ?? smoothing?.alpha ?? SmoothKind.alpha.defaultValue else { return nil }
        return CertificationSettings(sigma: sigma, n0: n0, n: n, alpha: alpha,
                                     predictN: predictN > 0 ? predictN : n, radii: radii, limit: limit, batchSize: batchSize)
    }
}

extension EvaluateKind {
    /// On the torch backend the policy is a torch `sft` stage, or the checkpoint `model: {path: DIR}` names.
    func torchAction(for stage: ResolvedStage) throws -> JobAction {
        let hasPolicy = stage.stage.inputs.contains { $0.role == "policy" }
        let hasCheckpoint = stage.stage.with[TorchOptions.model.name]?["path"] != nil
        if let config = stage.stage.with[TorchOptions.model.name]?["config"] {
            throw RecipeError(config.location, path: "stages.\(stage.stage.name).with.model.config",
                              "evaluate scores a trained policy, not a new random model", hint: "give `inputs: {policy: STAGE}` or `model: {path: DIR}`")
        }
        guard stage.stage.inputs.contains(where: { $0.role == "dataset" }), hasPolicy || hasCheckpoint else {
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name)",
                              "a torch evaluate stage needs `inputs: {dataset: STAGE}` (an unpack stage) and a policy: `inputs: {policy: STAGE}` (a torch sft stage) or `with: {model: {path: DIR}}`")
        }
        return try TorchAction.make(kind: name, stage: stage, modelWhenUnwritten: false)
    }
}
