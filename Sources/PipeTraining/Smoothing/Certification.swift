import Foundation
import PipeData
import PipeModel

/// How `evaluate` certifies the smoothed policy (CERTIFY and PREDICT's settings).
public struct CertificationSettings: Sendable, Equatable {
    public var sigma: Double
    public var n0: Int
    public var n: Int
    public var alpha: Double
    /// PREDICT's samples per record.
    public var predictN: Int
    public var radii: [Double]
    /// Records certified, spread over the evaluated ones (0: all).
    public var limit: Int
    public var batchSize: Int

    public init(sigma: Double, n0: Int, n: Int, alpha: Double, predictN: Int, radii: [Double], limit: Int, batchSize: Int = 32) {
        self.sigma = sigma
        self.n0 = n0
        self.n = n
        self.alpha = alpha
        self.predictN = predictN
        self.radii = radii
        self.limit = limit
        self.batchSize = batchSize
    }
}

/// The smoothed policy's certified accuracy (CERTIFY) and clean accuracy (PREDICT) on the
/// evaluated records; abstentions count as wrong in both.
public struct CertifiedResult: Codable, Equatable, Sendable {
    public var sigma: Double
    public var n0: Int
    public var n: Int
    public var alpha: Double
    public var predictN: Int
    public var certified: SmoothingSummary
    /// PREDICT's accuracy, abstentions counted wrong.
    public var smoothedAccuracy: Double
    /// Share of records where PREDICT abstained.
    public var smoothedAbstainRate: Double

    enum CodingKeys: String, CodingKey {
        case sigma, n0, n, alpha, predictN = "predict_n", certified, smoothedAccuracy = "smoothed_accuracy"
        case smoothedAbstainRate = "smoothed_abstain_rate"
    }

    /// Certifies and predicts `examples` with `classifier` (whose sigma is `settings.sigma`).
    public static func measure(_ classifier: SmoothedClassifier, examples: [Example], dataset: VQADataset,
                               settings: CertificationSettings) -> (result: CertifiedResult, certificates: [Certificate]) {
        let certificates = classifier.certify(examples, dataset: dataset, n0: settings.n0, n: settings.n, alpha: settings.alpha)
        let predictions = classifier.predict(examples, dataset: dataset, n: settings.predictN, alpha: settings.alpha)
        let count = Double(max(1, examples.count))
        let correct = zip(predictions, examples).filter { $0.0 == $0.1.record.answerLetter }.count
        let result = CertifiedResult(sigma: settings.sigma, n0: settings.n0, n: settings.n, alpha: settings.alpha, predictN: settings.predictN,
                                     certified: SmoothingSummary(sigma: settings.sigma, certificates: certificates, radii: settings.radii,
                                                                 n: settings.n, alpha: settings.alpha),
                                     smoothedAccuracy: Double(correct) / count,
                                     smoothedAbstainRate: Double(predictions.filter { $0 == nil }.count) / count)
        return (result, certificates)
    }
}
