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
public struct EvaluateKind: StageKind {
    public let name = "evaluate"
    public let version = 9

    public init() {}

    /// The budgets evaluated by default: 1, 2, 4 and 8 / 255.
    static let defaultBudgets: [Value] = [1.0, 2.0, 4.0, 8.0].map { Value.double($0 / 255) }

    static let attackOptions = OptionSchema([
        .init("methods", .textList(AttackSettings.Method.allCases.map(\.rawValue)), default: .list([]),
              help: "attacks to run: fgsm, pgd_linf, pgd_l2 (none by default)"),
        .init("eps", .numberList(0...1000), default: .list(defaultBudgets), help: "budgets on [0, 1] pixels, each method at each"),
        .init("steps", .int(1...1000), default: .int(10), help: "PGD steps"),
        .init("limit", .int(0...10_000_000), default: .int(0), help: "records to attack, drawn from the scored ones with a fixed seed (0: all)"),
        .init("alpha_ratio", .number(0...100), default: .double(0.25), help: "PGD step size as a fraction of eps (torchattacks: 2/255 at 8/255)"),
        .init("random_start", .bool, default: .bool(true), help: "start PGD at a random point of the ball"),
    ])

    static let certifyOptions = OptionSchema([
        .init("sigma", .number(0.0001...100), default: .null, help: "noise level (default: the `smoothing` input's choice)"),
        .init("n0", .int(1...10_000_000), default: .null, help: "CERTIFY's selection samples (default: the smoothing input's, else 100)"),
        .init("n", .int(1...100_000_000), default: .null, help: "CERTIFY's estimation samples (default: the smoothing input's, else 100000)"),
        .init("alpha", .number(1e-12...0.5), default: .null, help: "failure probability (default: the smoothing input's, else 0.001)"),
        .init("predict_n", .int(0...100_000_000), default: .int(0), help: "PREDICT's samples per record (0: the same as n)"),
        .init("radii", .numberList(0...1000), default: .list(SmoothKind.defaultRadii), help: "L2 radii the certified accuracy is reported at"),
        .init("limit", .int(0...10_000_000), default: .int(0), help: "records to certify, spread over the scored ones (0: all)"),
        .init("batch_size", .int(1...4096), default: .int(32), help: "noisy samples decoded together"),
    ])

    static let cueOptions = OptionSchema([
        .init("limit", .int(0...10_000_000), default: .int(0),
              help: "records probed with each misleading cue, drawn from the scored ones with a fixed seed (0: all)"),
    ])

    public var schema: OptionSchema? {
        OptionSchema([
            .init("split", .text(["train", "val", "test"]), default: .string("test"), help: "the split to score"),
            .init("limit", .int(0...10_000_000), default: .int(0), help: "records to score, drawn from the split with a fixed seed (0: all)"),
            TrainingKindSupport.reasoningOption,
            .init("max_new_tokens", .int(1...4096), default: .int(96), help: "tokens to generate per answer"),
            .init("attack", .group(Self.attackOptions), default: nil, help: "adversarial evaluation"),
            .init("cues", .group(Self.cueOptions), default: nil, help: "Med-R2's misleading-cue probes (a hint, shuffled options)"),
            .init("certify", .group(Self.certifyOptions), default: nil,
                  help: "randomized smoothing: certified accuracy (on with a `smoothing` input or a sigma)"),
        ])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let o = stage.options
        try TrainingKindSupport.requireInputs([("dataset", "an unpack stage"), ("policy", "a training stage")], of: stage)
        let attack = o["attack"]
        var attacks: [AttackSettings] = []
        for method in (attack?["methods"]?.texts ?? []).compactMap(AttackSettings.Method.init(rawValue:)) {
            for eps in attack?["eps"]?.numbers ?? [] {
                attacks.append(AttackSettings(method: method, eps: eps, alpha: eps * (attack?["alpha_ratio"]?.number ?? 0.25),
                                              steps: method == .fgsm ? 1 : attack?["steps"]?.integer ?? 10,
                                              randomStart: method != .fgsm && (attack?["random_start"]?.flag ?? true)))
            }
        }
        let certify = o["certify"]
        return EvaluateAction(split: o["split"]?.text ?? "test", limit: o["limit"]?.integer ?? 0, reasoning: o["reasoning"]?.text ?? "auto",
                              maxNewTokens: o["max_new_tokens"]?.integer ?? 96, attacks: attacks,
                              attackLimit: attack?["limit"]?.integer ?? 0, cueLimit: o["cues"]?["limit"]?.integer ?? 0, seed: UInt64(stage.seed),
                              certify: CertifyRequest(sigma: certify?["sigma"]?.number, n0: certify?["n0"]?.integer, n: certify?["n"]?.integer,
                                                      alpha: certify?["alpha"]?.number, predictN: certify?["predict_n"]?.integer ?? 0,
                                                      radii: certify?["radii"]?.numbers ?? [], limit: certify?["limit"]?.integer ?? 0,
                                                      batchSize: certify?["batch_size"]?.integer ?? 32))
    }
}

struct EvaluateAction: JobAction {
    var split: String
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
            let splitValue = Split(rawValue: split) ?? .test
            let entries = SFTTrainer.spread(dataset.records(splitValue), limit: limit)
            let evaluation = PolicyEvaluation(mode: mode, maxNewTokens: maxNewTokens, attacks: attacks, attackLimit: attackLimit,
                                          cueLimit: cueLimit, threads: TrainingThreads.count, seed: seed, certification: certify.settings(smoothing))
            let output = try evaluation.run(checkpoint, on: dataset, entries: entries, split: split, log: context.log)
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
        let n = self.n ?? smoothing?.n ?? 100_000
        return CertificationSettings(sigma: sigma, n0: n0 ?? smoothing?.n0 ?? 100, n: n, alpha: alpha ?? smoothing?.alpha ?? 0.001,
                                     predictN: predictN > 0 ? predictN : n, radii: radii, limit: limit, batchSize: batchSize)
    }
}
