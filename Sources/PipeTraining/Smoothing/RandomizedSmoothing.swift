import Foundation
import PipeData
import PipeStatistics

/// Cohen et al.'s PREDICT and CERTIFY decisions (locuslab/smoothing `core.py`) from the class counts
/// of a base classifier under Gaussian noise, and the certified accuracy of a set of certificates.
public enum RandomizedSmoothing {
    /// The class of an answer with no option letter (the base classifier's "abstain" output; a
    /// class like the others, never correct).
    public static let unparsable = "(unparsable)"

    /// The classes by count, most frequent first (ties: the smaller label first, so the choice is
    /// deterministic where NumPy's `argmax` takes the lowest index).
    public static func ranked(_ counts: [String: Int]) -> [(label: String, count: Int)] {
        counts.map { (label: $0.key, count: $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.label < $1.label }
    }

    /// CERTIFY: the top class of the `selection` counts (n0 samples) is the candidate; its count in the
    /// fresh `estimation` counts (n samples) gives pA, the one-sided (1 - alpha) Clopper–Pearson lower
    /// bound. Abstains (nil label, radius 0) when pA < 0.5; otherwise the radius is sigma * Phi^-1(pA).
    public static func certify(selection: [String: Int], estimation: [String: Int], alpha: Double,
                               sigma: Double) -> (label: String?, radius: Double, lowerBound: Double) {
        let n = estimation.values.reduce(0, +)
        guard let candidate = ranked(selection).first?.label, n > 0 else { return (nil, 0, 0) }
        let pA = Statistics.clopperPearsonLower(successes: estimation[candidate] ?? 0, trials: n, alpha: alpha)
        guard pA >= 0.5 else { return (nil, 0, pA) }
        return (candidate, sigma * Statistics.normalQuantile(pA), pA)
    }

    /// PREDICT: the top class of the counts, or nil (abstain) when the two-sided binomial test of its
    /// count against the runner-up's at p = 0.5 has a p-value above alpha.
    public static func predict(_ counts: [String: Int], alpha: Double) -> String? {
        let top = ranked(counts)
        guard let first = top.first, first.count > 0 else { return nil }
        let second = top.count > 1 ? top[1].count : 0
        return Statistics.binomialTestTwoSided(first.count, n: first.count + second, p: 0.5) > alpha ? nil : first.label
    }

    /// The largest radius CERTIFY can give with `n` estimation samples at `alpha`, when all n land
    /// on the top class: pA = alpha^(1/n), so sigma * Phi^-1(alpha^(1/n)) (0 if that pA is below 0.5).
    public static func largestRadius(sigma: Double, n: Int, alpha: Double) -> Double {
        guard n > 0 else { return 0 }
        let pA = Statistics.clopperPearsonLower(successes: n, trials: n, alpha: alpha)
        return pA >= 0.5 ? sigma * Statistics.normalQuantile(pA) : 0
    }

    /// The fewest estimation samples with which CERTIFY can reach `radius` at `sigma` and `alpha`:
    /// ln(alpha) / ln(Phi(radius / sigma)), rounded up.
    public static func samplesToReach(radius: Double, sigma: Double, alpha: Double) -> Int {
        let p = Statistics.normalCDF(radius / sigma)
        let samples = (Foundation.log(alpha) / Foundation.log(p)).rounded(.up)
        return p < 1 && samples < Double(Int.max) ? max(1, Int(samples)) : Int.max
    }

    /// The fraction of `certificates` that are correct with a radius of at least `radius`
    /// (abstentions count as wrong).
    public static func certifiedAccuracy(_ certificates: [Certificate], at radius: Double) -> Double {
        guard !certificates.isEmpty else { return 0 }
        return Double(certificates.filter { $0.correct && $0.radius >= radius }.count) / Double(certificates.count)
    }
}

/// One test point's certificate.
public struct Certificate: Codable, Equatable, Sendable {
    public var questionID: String
    public var modality: String
    public var questionType: String
    /// The ground-truth letter.
    public var answer: String
    /// The certified class (a letter or `(unparsable)`), nil when CERTIFY abstained.
    public var predicted: String?
    /// The certified L2 radius on [0, 1] pixels (0 when abstaining).
    public var radius: Double
    /// pA, the lower confidence bound on the top class's probability.
    public var lowerBound: Double
    /// The candidate class's count among the n estimation samples.
    public var count: Int
    public var correct: Bool

    enum CodingKeys: String, CodingKey {
        case questionID = "question_id", modality, questionType = "question_type", answer, predicted, radius
        case lowerBound = "p_lower", count, correct
    }

    /// The CSV header, with a leading `sigma` column when the rows carry one.
    public static func csvHeader(sigma: Bool = false) -> String {
        (sigma ? "sigma," : "") + "question_id,modality,question_type,answer,predicted,radius,p_lower,count,correct"
    }

    /// CSV rows without a header, each led by `sigma` when given.
    public static func csvRows(_ certificates: [Certificate], sigma: Double? = nil) -> String {
        certificates.map { c in
            let fields = [c.questionID, c.modality, c.questionType, c.answer, c.predicted ?? "abstain"].map(CSV.field)
            return (sigma.map { "\($0)," } ?? "") + fields.joined(separator: ",")
                + String(format: ",%.6f,%.6f,%d,%d\n", c.radius, c.lowerBound, c.count, c.correct ? 1 : 0)
        }.joined()
    }

    /// CSV with a header: `question_id,modality,question_type,answer,predicted,radius,p_lower,count,correct`.
    public static func csv(_ certificates: [Certificate]) -> String { csvHeader() + "\n" + csvRows(certificates) }
}
