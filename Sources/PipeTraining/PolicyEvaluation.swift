import Foundation
import PipeData
import PipeModel
import PipeRandom

/// Accuracy under one attack at one budget.
public struct AttackResult: Codable, Equatable, Sendable {
    public var method: String
    public var eps: Double
    public var alpha: Double
    public var steps: Int
    /// Records attacked (drawn from the evaluated ones with a fixed seed).
    public var count: Int
    public var accuracy: Double
    public var formatRate: Double
    /// Clean accuracy on the same records minus this one.
    public var drop: Double
    /// Accuracy under the attack by question type, and clean on the same records (absent in reports
    /// written before they were measured).
    public var byQuestionType: [String: Double]?
    public var cleanByQuestionType: [String: Double]?

    public init(method: String, eps: Double, alpha: Double, steps: Int, count: Int, accuracy: Double, formatRate: Double, drop: Double,
                byQuestionType: [String: Double]? = nil, cleanByQuestionType: [String: Double]? = nil) {
        self.method = method
        self.eps = eps
        self.alpha = alpha
        self.steps = steps
        self.count = count
        self.accuracy = accuracy
        self.formatRate = formatRate
        self.drop = drop
        self.byQuestionType = byQuestionType
        self.cleanByQuestionType = cleanByQuestionType
    }
}

/// What `evaluate` measures on one split: clean accuracy with its breakdowns, the modality x
/// question-type grid, and accuracy under each attack.
public struct EvaluationReport: Codable, Equatable, Sendable {
    enum CodingKeys: String, CodingKey {
        case split, clean, grid, attacks, robustAccuracy = "robust_accuracy", cues, stepwise, rationale, smoothing
    }

    public var split: String
    public var clean: EvaluationResult
    /// modality -> question type -> accuracy.
    public var grid: [String: [String: Double]]
    public var attacks: [AttackResult]
    /// Accuracy under each attack by method and eps (as written in the recipe, e.g. "0.03137"), for
    /// comparisons such as `eval.pgd_linf@0.03137`.
    public var robustAccuracy: [String: [String: Double]]?
    /// Misleading cues (Med-R2): a hint towards a wrong option appended to the question
    /// (`misleading_hint`), the options in another order (`shuffled_options`).
    public var cues: [String: CueResult]
    /// Stepwise consistency on chained questions (Med-R2).
    public var stepwise: StepwiseResult
    /// `cot` only: whether each answer's rationale concludes with the true answer, and whether the
    /// letter answered follows from that conclusion.
    public var rationale: RationaleCheck?
    /// Randomized smoothing's certified and clean accuracy, when requested.
    public var smoothing: CertifiedResult?
}

/// Everything `PolicyEvaluation.run` measured: the report, the clean predictions and, when
/// certification was requested, each certified record's certificate.
public struct EvaluationOutput: Sendable {
    public var report: EvaluationReport
    public var predictions: [Prediction]
    public var certificates: [Certificate]
}

/// Evaluates a policy on records: greedy decoding on the clean images, then on adversarial images
/// crafted against it for each attack (Med-R1's scoring throughout).
public struct PolicyEvaluation: Sendable {
    public var mode: ReasoningMode
    public var maxNewTokens: Int
    public var attacks: [AttackSettings]
    /// Records attacked, drawn from the evaluated ones with a fixed seed (0: all); attacks cost PGD's steps
    /// in forward and backward passes per record, clean decoding only one.
    public var attackLimit: Int
    /// Records probed with Med-R2's misleading cues, drawn from the evaluated ones with a fixed seed (0: all);
    /// each probe decodes them once more.
    public var cueLimit: Int
    public var threads: Int
    public var seed: UInt64
    /// Randomized smoothing of the policy, certified on records spread over the evaluated ones (nil: none).
    public var certification: CertificationSettings?

    public init(mode: ReasoningMode, maxNewTokens: Int, attacks: [AttackSettings], attackLimit: Int = 0, cueLimit: Int = 0, threads: Int,
                seed: UInt64, certification: CertificationSettings? = nil) {
        self.certification = certification
        self.attackLimit = attackLimit
        self.cueLimit = cueLimit
        self.mode = mode
        self.maxNewTokens = maxNewTokens
        self.attacks = attacks
        self.threads = max(1, threads)
        self.seed = seed
    }

    /// The report and the clean predictions for `entries` of `dataset`.
    public func run(_ checkpoint: Checkpoint, on dataset: VQADataset, entries: [DatasetIndex.Entry], split: String,
                    log: (String) -> Void = { _ in }) throws -> EvaluationOutput {
        guard !entries.isEmpty else { throw TrainingError("the \(split) split has no records; check the unpack stage's split") }
        guard checkpoint.model.config.imageSize == dataset.imageSize else {
            throw TrainingError("the checkpoint's images are \(checkpoint.model.config.imageSize) pixels, the dataset's \(dataset.imageSize)")
        }
        let builder = ExampleBuilder(tokenizer: checkpoint.tokenizer, mode: mode, records: dataset.index.records.map(\.record))
        let examples = entries.map(builder.example)
        try Example.requireRoomToGenerate(examples, maxLen: checkpoint.model.config.maxLen)
        let evaluator = Evaluator(mode: mode, maxNewTokens: maxNewTokens, threads: threads)
        let start = Date()
        let (clean, predictions) = evaluator.score(model: checkpoint.model, tokenizer: checkpoint.tokenizer, dataset: dataset, examples: examples)
        log(String(format: "clean: accuracy %.3f, format %.3f on %d records (%.1f s)", clean.accuracy, clean.formatRate, clean.count,
                   Date().timeIntervalSince(start)))
        var random = SeededRandom(seed: SeedStream.evaluateCues.seed(seed))
        var cues: [String: CueResult] = [:]
        let probed = Subset.spread(Array(examples.indices), limit: cueLimit)
        let cleanOnProbed = Self.accuracy(of: probed, in: predictions)
        for (name, variant) in [("misleading_hint", MedR2Probes.misleading), ("shuffled_options", MedR2Probes.shuffled)] {
            let changed = probed.map { builder.example(variant(examples[$0].record, &random), image: entries[$0].image) }
            try Example.requireRoomToGenerate(changed, maxLen: checkpoint.model.config.maxLen)
            let result = evaluator.evaluate(model: checkpoint.model, tokenizer: checkpoint.tokenizer, dataset: dataset, examples: changed)
            cues[name] = CueResult(accuracy: result.accuracy, drop: cleanOnProbed - result.accuracy, count: changed.count)
            log(String(format: "%@: accuracy %.3f on %d records", name, result.accuracy, changed.count))
        }
        let stepwise = MedR2Probes.stepwise(predictions, records: examples.map(\.record))
        let attackers = (0..<threads).map { _ in Attacker(checkpoint.model) }
        var results: [AttackResult] = []
        let targets = Subset.spread(Array(examples.indices), limit: attackLimit)
        let attackedExamples = targets.map { examples[$0] }
        let cleanOnTargets = Self.accuracy(of: targets, in: predictions)
        let cleanByType = Self.accuracyByQuestionType(targets.map { predictions[$0] })
        for settings in attacks {
            let attackStart = Date()
            let perturbed = Attacker.perturb(attackedExamples, attackers: attackers, parameters: checkpoint.model.parameters.values, dataset: dataset,
                                             settings: settings, seed: seed, chunk: 8)
            let attacked = evaluator.evaluate(model: checkpoint.model, tokenizer: checkpoint.tokenizer, dataset: dataset, examples: perturbed)
            results.append(AttackResult(method: settings.method.rawValue, eps: settings.eps, alpha: settings.alpha, steps: settings.steps,
                                        count: attacked.count, accuracy: attacked.accuracy, formatRate: attacked.formatRate,
                                        drop: cleanOnTargets - attacked.accuracy, byQuestionType: attacked.byQuestionType,
                                        cleanByQuestionType: cleanByType))
            log(String(format: "%@ eps %.4g: accuracy %.3f (%.1f s)", settings.method.rawValue, settings.eps, attacked.accuracy,
                       Date().timeIntervalSince(attackStart)))
        }
        var smoothing: CertifiedResult?, certificates: [Certificate] = []
        if let settings = certification {
            let certifyStart = Date()
            let classifier = SmoothedClassifier(model: checkpoint.model, tokenizer: checkpoint.tokenizer, sigma: settings.sigma,
                                                maxNewTokens: maxNewTokens, batchSize: settings.batchSize, threads: threads, seed: seed)
            let chosen = Subset.spread(examples, limit: settings.limit)
            (smoothing, certificates) = CertifiedResult.measure(classifier, examples: chosen, dataset: dataset, settings: settings)
            let samples = chosen.count * (settings.n0 + settings.n + settings.predictN)
            let seconds = Date().timeIntervalSince(certifyStart)
            log(String(format: "smoothed (sigma %.4g, n %d): accuracy %.3f, certified at 0 %.3f on %d records (%.1f noisy samples/s)",
                       settings.sigma, settings.n, smoothing?.smoothedAccuracy ?? 0,
                       RandomizedSmoothing.certifiedAccuracy(certificates, at: 0), chosen.count, Double(samples) / max(seconds, 1e-9)))
        }
        var robust: [String: [String: Double]] = [:]
        for result in results { robust[result.method, default: [:]]["\(result.eps)"] = result.accuracy }
        let report = EvaluationReport(split: split, clean: clean, grid: Self.grid(predictions), attacks: results, robustAccuracy: robust,
                                      cues: cues, stepwise: stepwise,
                                      rationale: mode == .cot ? RationaleCheck.measure(predictions, records: examples.map(\.record)) : nil,
                                      smoothing: smoothing)
        return EvaluationOutput(report: report, predictions: predictions, certificates: certificates)
    }

    /// Accuracy per modality and question type.
    public static func grid(_ predictions: [Prediction]) -> [String: [String: Double]] {
        var counts: [String: [String: (Int, Int)]] = [:]
        for p in predictions {
            counts[p.modality, default: [:]][p.questionType, default: (0, 0)].0 += p.correct ? 1 : 0
            counts[p.modality, default: [:]][p.questionType, default: (0, 0)].1 += 1
        }
        return counts.mapValues { $0.mapValues { Double($0.0) / Double($0.1) } }
    }

    /// Accuracy of the predictions at `indices` (0 for none).
    static func accuracy(of indices: [Int], in predictions: [Prediction]) -> Double {
        Double(indices.filter { predictions[$0].correct }.count) / Double(max(1, indices.count))
    }

    static func accuracyByQuestionType(_ predictions: [Prediction]) -> [String: Double] {
        Dictionary(grouping: predictions, by: \.questionType).mapValues { Double($0.filter(\.correct).count) / Double($0.count) }
    }

    /// The report as Markdown: clean accuracy, accuracy by modality and question type, the attacks.
    public static func markdown(_ report: EvaluationReport) -> String {
        var lines = ["# Evaluation on the \(report.split) split", "",
                     String(format: "Clean accuracy %.3f on %d questions; format compliance %.3f; mean completion %.1f tokens.",
                            report.clean.accuracy, report.clean.count, report.clean.formatRate, report.clean.meanCompletionTokens), ""]
        let types = Array(Set(report.grid.values.flatMap(\.keys))).sorted()
        lines.append("| modality | all | " + types.joined(separator: " | ") + " |")
        lines.append("|---|---|" + types.map { _ in "---|" }.joined())
        for modality in report.grid.keys.sorted() {
            let cells = types.map { report.grid[modality]?[$0].map { String(format: "%.3f", $0) } ?? "" }
            lines.append("| \(modality) | " + String(format: "%.3f", report.clean.byModality[modality] ?? 0) + " | " + cells.joined(separator: " | ") + " |")
        }
        lines.append("| all | " + String(format: "%.3f", report.clean.accuracy) + " | "
                     + types.map { String(format: "%.3f", report.clean.byQuestionType[$0] ?? 0) }.joined(separator: " | ") + " |")
        lines += ["", "| probe (Med-R2) | records | accuracy | drop from clean |", "|---|---|---|---|"]
        for (name, cue) in report.cues.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "| %@ | %d | %.3f | %.3f |", name.replacingOccurrences(of: "_", with: " "), cue.count ?? report.clean.count,
                                cue.accuracy, cue.drop))
        }
        let steps = report.stepwise.byStep.keys.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        lines += ["", String(format: "Stepwise consistency: %.3f of %d chains answered correctly at every step; accuracy by step: %@.",
                             report.stepwise.fullyCorrect, report.stepwise.chains,
                             steps.map { String(format: "%@: %.3f", $0, report.stepwise.byStep[$0] ?? 0) }.joined(separator: ", "))]
        if let r = report.rationale {
            lines += ["", String(format: "Rationale: %.3f of %d answers conclude with the true answer's text; %.3f state a conclusion "
                                 + "that is an option, and %.3f of those answer the letter it names", r.conclusionAccuracy, r.count, r.concluded, r.faithful)
                      + (r.checksRight.map { String(format: "; the option checks after it are all right in %.3f of them.", $0) } ?? ".")]
        }
        if let s = report.smoothing {
            let radii = s.certified.certifiedAccuracy.keys.sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
            lines += ["", String(format: "Randomized smoothing, sigma %.4g: CERTIFY with n0 %d, n %d, alpha %g on %d records; PREDICT with n %d: "
                                 + "smoothed accuracy %.3f (abstained on %.3f, counted wrong); mean certified radius %.3f. "
                                 + "With n %d and alpha %g no radius above %.3f can be certified, whatever the policy.",
                                 s.sigma, s.n0, s.n, s.alpha, s.certified.count, s.predictN, s.smoothedAccuracy, s.smoothedAbstainRate,
                                 s.certified.meanRadius, s.n, s.alpha,
                                 s.certified.largestCertifiableRadius ?? RandomizedSmoothing.largestRadius(sigma: s.sigma, n: s.n, alpha: s.alpha)), "",
                      "| L2 radius | " + radii.joined(separator: " | ") + " |", "|---|" + radii.map { _ in "---|" }.joined(),
                      "| certified accuracy | " + radii.map { String(format: "%.3f", s.certified.certifiedAccuracy[$0] ?? 0) }.joined(separator: " | ") + " |"]
        }
        if !report.attacks.isEmpty {
            lines += ["", "| attack | eps | alpha | steps | records | accuracy | drop from clean |", "|---|---|---|---|---|---|---|"]
            for a in report.attacks {
                lines.append(String(format: "| %@ | %.4g | %.4g | %d | %d | %.3f | %.3f |", a.method, a.eps, a.alpha, a.steps, a.count,
                                    a.accuracy, a.drop))
            }
            lines += attackTypeTable(report.attacks)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Accuracy by question type on the attacked records: clean, then under each attack.
    static func attackTypeTable(_ attacks: [AttackResult]) -> [String] {
        guard let clean = attacks.first?.cleanByQuestionType else { return [] }
        let types = clean.keys.sorted()
        func row(_ name: String, _ values: [String: Double]?) -> String {
            "| \(name) | " + types.map { values?[$0].map { String(format: "%.3f", $0) } ?? "" }.joined(separator: " | ") + " |"
        }
        return ["", "Accuracy by question type on the attacked records:", "",
                "| attack | " + types.joined(separator: " | ") + " |", "|---|" + types.map { _ in "---|" }.joined(),
                row("clean", clean)] + attacks.map { row(String(format: "%@ %.4g", $0.method, $0.eps), $0.byQuestionType) }
    }

    /// The attacks as CSV: method, eps, alpha, steps, records, accuracy, format rate, drop (the first
    /// row is the clean evaluation of every record).
    public static func attacksCSV(_ report: EvaluationReport) -> String {
        var rows = ["method,eps,alpha,steps,records,accuracy,format_rate,drop",
                    String(format: "none,0,0,0,%d,%.6f,%.6f,0", report.clean.count, report.clean.accuracy, report.clean.formatRate)]
        for a in report.attacks {
            rows.append(String(format: "%@,%.6g,%.6g,%d,%d,%.6f,%.6f,%.6f", a.method, a.eps, a.alpha, a.steps, a.count, a.accuracy,
                               a.formatRate, a.drop))
        }
        return rows.joined(separator: "\n") + "\n"
    }
}
