import Foundation
import PipeData
import PipeModel

/// How `smooth` picks sigma among its candidates on the validation split.
public enum SmoothingCriterion: Equatable, Sendable, CustomStringConvertible {
    /// The highest certified accuracy at this L2 radius.
    case certifiedAccuracyAt(Double)
    /// The highest mean certified radius, wrong answers and abstentions counted as radius 0 (the
    /// "average certified radius" of MACER).
    case meanRadius

    public var description: String {
        switch self {
        case .certifiedAccuracyAt(let radius): return "certified_accuracy_at: \(radius)"
        case .meanRadius: return "mean_radius"
        }
    }

    /// The criterion's value for a set of certificates (higher is better).
    public func score(_ certificates: [Certificate]) -> Double {
        switch self {
        case .certifiedAccuracyAt(let radius): return RandomizedSmoothing.certifiedAccuracy(certificates, at: radius)
        case .meanRadius: return SmoothingSummary.meanRadius(certificates)
        }
    }
}

/// Certified accuracy at each radius of a list, and the other summaries of a set of certificates.
public struct SmoothingSummary: Codable, Equatable, Sendable {
    public var sigma: Double
    public var count: Int
    /// Radius (as printed, e.g. "0.25") -> certified accuracy.
    public var certifiedAccuracy: [String: Double]
    /// Mean certified radius, wrong and abstaining points counted as 0.
    public var meanRadius: Double
    /// Share of points where CERTIFY abstained.
    public var abstainRate: Double
    /// The largest radius CERTIFY can give with its n and alpha (sigma x Phi^-1(alpha^(1/n)), every
    /// sample agreeing): certified accuracy at any larger radius is 0 whatever the policy. Absent
    /// from summaries written before it was recorded.
    public var largestCertifiableRadius: Double?

    enum CodingKeys: String, CodingKey {
        case sigma, count, certifiedAccuracy = "certified_accuracy", meanRadius = "mean_radius", abstainRate = "abstain_rate"
        case largestCertifiableRadius = "largest_certifiable_radius"
    }

    public init(sigma: Double, count: Int, certifiedAccuracy: [String: Double], meanRadius: Double, abstainRate: Double) {
        self.sigma = sigma
        self.count = count
        self.certifiedAccuracy = certifiedAccuracy
        self.meanRadius = meanRadius
        self.abstainRate = abstainRate
    }

    /// The summary of `certificates` at `radii`, certified with `n` estimation samples at `alpha`.
    public init(sigma: Double, certificates: [Certificate], radii: [Double], n: Int, alpha: Double) {
        self.sigma = sigma
        largestCertifiableRadius = RandomizedSmoothing.largestRadius(sigma: sigma, n: n, alpha: alpha)
        count = certificates.count
        certifiedAccuracy = Dictionary(radii.map { (Self.key($0), RandomizedSmoothing.certifiedAccuracy(certificates, at: $0)) },
                                       uniquingKeysWith: { first, _ in first })
        meanRadius = Self.meanRadius(certificates)
        abstainRate = certificates.isEmpty ? 0 : Double(certificates.filter { $0.predicted == nil }.count) / Double(certificates.count)
    }

    /// A radius as a metric key: the shortest decimal that reads back as it ("0.25", "1").
    public static func key(_ radius: Double) -> String {
        radius == radius.rounded() && abs(radius) < 1e15 ? String(Int(radius)) : "\(radius)"
    }

    public static func meanRadius(_ certificates: [Certificate]) -> Double {
        guard !certificates.isEmpty else { return 0 }
        return certificates.reduce(0) { $0 + ($1.correct ? $1.radius : 0) } / Double(certificates.count)
    }
}

/// The chosen noise level and how it was chosen (`smooth`'s `smoothing.json`).
public struct SmoothingChoice: Codable, Equatable, Sendable {
    public var sigma: Double
    public var n0: Int
    public var n: Int
    public var alpha: Double
    public var criterion: String
    /// The split and records the candidates were certified on.
    public var split: String
    public var records: Int
    /// Each candidate's certified accuracy and the criterion's score, in the order given.
    public var candidates: [SmoothingSummary]
    public var scores: [Double]
    /// Epochs of noise-augmented fine-tuning each candidate's policy had (0: the policy as given).
    public var finetuneEpochs: Int

    enum CodingKeys: String, CodingKey {
        case sigma, n0, n, alpha, criterion, split, records, candidates, scores, finetuneEpochs = "finetune_epochs"
    }

    /// The best candidate by `scores`; ties go to the smaller sigma (listed first when sorted).
    public static func best(sigmas: [Double], scores: [Double]) -> Int {
        var best = 0
        for i in sigmas.indices.dropFirst() where scores[i] > scores[best] || (scores[i] == scores[best] && sigmas[i] < sigmas[best]) {
            best = i
        }
        return best
    }
}

/// `smooth`'s calibration: certifies each candidate sigma's smoothed policy on validation records
/// (optionally after fine-tuning a copy of the policy on images with that noise) and keeps the best
/// by the criterion.
public struct SmoothingCalibration: Sendable {
    public var sigmas: [Double]
    public var criterion: SmoothingCriterion
    public var n0: Int
    public var n: Int
    public var alpha: Double
    /// Radii at which the candidates' certified accuracy is reported.
    public var radii: [Double]
    public var mode: ReasoningMode
    public var maxNewTokens: Int
    public var batchSize: Int
    public var threads: Int
    public var seed: UInt64
    /// Noise-augmented fine-tuning before certification: the SFT settings (epochs 0: none).
    public var finetune: SFTConfig

    public init(sigmas: [Double], criterion: SmoothingCriterion, n0: Int, n: Int, alpha: Double, radii: [Double], mode: ReasoningMode,
                maxNewTokens: Int, batchSize: Int, threads: Int, seed: UInt64, finetune: SFTConfig) {
        self.sigmas = sigmas
        self.criterion = criterion
        self.n0 = n0
        self.n = n
        self.alpha = alpha
        self.radii = radii
        self.mode = mode
        self.maxNewTokens = maxNewTokens
        self.batchSize = batchSize
        self.threads = threads
        self.seed = seed
        self.finetune = finetune
    }

    /// What calibration produced: the choice, the chosen sigma's policy, every candidate's
    /// certificates, and the decoding speed per candidate (noisy samples per second).
    public struct Outcome: Sendable {
        public var choice: SmoothingChoice
        public var policy: Checkpoint
        public var certificates: [[Certificate]]
        public var samplesPerSecond: [Double]
    }

    public func run(_ checkpoint: Checkpoint, on dataset: VQADataset, entries: [DatasetIndex.Entry], split: String,
                    log: (String) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> Outcome {
        guard !entries.isEmpty else { throw TrainingError("the \(split) split has no records to calibrate on; check the unpack stage's split") }
        guard !sigmas.isEmpty, sigmas.allSatisfy({ $0 > 0 }) else { throw TrainingError("sigmas must be a non-empty list of positive numbers") }
        guard checkpoint.model.config.imageSize == dataset.imageSize else {
            throw TrainingError("the checkpoint's images are \(checkpoint.model.config.imageSize) pixels, the dataset's \(dataset.imageSize)")
        }
        var policies: [Checkpoint] = [], certificates: [[Certificate]] = [], speeds: [Double] = [], scores: [Double] = []
        for sigma in sigmas {
            if shouldStop() { throw TrainingError("stopped") }
            let reach = RandomizedSmoothing.largestRadius(sigma: sigma, n: n, alpha: alpha)
            if case .certifiedAccuracyAt(let radius) = criterion, reach < radius {
                log(String(format: "warning: sigma %g certifies at most radius %.3f with n %d and alpha %g, below the criterion's %g: "
                           + "it scores 0 whatever the policy (n %d would reach it)", sigma, reach, n, alpha, radius,
                           RandomizedSmoothing.samplesToReach(radius: radius, sigma: sigma, alpha: alpha)))
            }
            var policy = checkpoint
            if finetune.epochs > 0 {
                var config = finetune
                config.initial = checkpoint
                config.mode = mode
                config.noiseSigma = sigma
                config.validate = false
                config.threads = threads
                policy = try SFTTrainer(config).train(on: dataset, log: { log("sigma \(sigma) fine-tuning: " + $0) }, shouldStop: shouldStop).checkpoint
            }
            let builder = ExampleBuilder(tokenizer: policy.tokenizer, mode: mode, records: dataset.index.records.map(\.record))
            let classifier = SmoothedClassifier(model: policy.model, tokenizer: policy.tokenizer, sigma: sigma, maxNewTokens: maxNewTokens,
                                                batchSize: batchSize, threads: threads, seed: seed)
            let start = Date()
            let examples = entries.map(builder.example)
            try Example.requireRoomToGenerate(examples, maxLen: policy.model.config.maxLen)
            let certified = classifier.certify(examples, dataset: dataset, n0: n0, n: n, alpha: alpha)
            let speed = Double(entries.count * (n0 + n)) / max(Date().timeIntervalSince(start), 1e-9)
            let summary = SmoothingSummary(sigma: sigma, certificates: certified, radii: radii, n: n, alpha: alpha)
            scores.append(criterion.score(certified))
            log(String(format: "sigma %.4g: %@ %.3f, certified accuracy at 0 %.3f, abstain %.3f (%.1f noisy samples/s)", sigma,
                       criterion.description, scores.last ?? 0, RandomizedSmoothing.certifiedAccuracy(certified, at: 0), summary.abstainRate, speed))
            policies.append(policy)
            certificates.append(certified)
            speeds.append(speed)
        }
        let best = SmoothingChoice.best(sigmas: sigmas, scores: scores)
        let choice = SmoothingChoice(sigma: sigmas[best], n0: n0, n: n, alpha: alpha, criterion: criterion.description, split: split,
                                     records: entries.count,
                                     candidates: zip(sigmas, certificates).map { SmoothingSummary(sigma: $0, certificates: $1, radii: radii, n: n, alpha: alpha) },
                                     scores: scores, finetuneEpochs: finetune.epochs)
        var chosen = policies[best]
        chosen.info["pipe.smoothing_sigma"] = "\(sigmas[best])"
        return Outcome(choice: choice, policy: chosen, certificates: certificates, samplesPerSecond: speeds)
    }
}
