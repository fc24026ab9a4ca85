import Foundation

/// One multiple-choice question about one image, in OmniMedVQA's terms.
public struct VQARecord: Codable, Equatable, Sendable {
    public var questionID: String
    /// Modality Recognition, Anatomy Identification, Disease Diagnosis, Lesion Grading, Other Biological Attributes.
    public var questionType: String
    public var modality: String
    public var question: String
    /// The option texts, A first; 2 to 4 of them.
    public var options: [String]
    /// The index of the correct option (0 = A).
    public var answer: Int
    /// Relative to the dataset root (`Images/<Dataset>/...`).
    public var imagePath: String
    public var dataset: String
    /// Stepwise chain (Med-R2): records of one image asked in order; nil outside chains.
    public var chainID: String?
    public var chainStep: Int?

    public init(questionID: String, questionType: String, modality: String, question: String, options: [String],
                answer: Int, imagePath: String, dataset: String, chainID: String? = nil, chainStep: Int? = nil) {
        self.questionID = questionID
        self.questionType = questionType
        self.modality = modality
        self.question = question
        self.options = options
        self.answer = answer
        self.imagePath = imagePath
        self.dataset = dataset
        self.chainID = chainID
        self.chainStep = chainStep
    }

    /// The answer as a letter, `A`...
    public var answerLetter: String { String(UnicodeScalar(UInt8(65 + answer))) }

    /// The same question with its options reordered: option `k` of the result is `options[order[k]]`
    /// (`order` is a permutation of the option indices), the answer moved with its text.
    public func reorderingOptions(_ order: [Int]) -> VQARecord {
        var record = self
        record.options = order.map { options[$0] }
        record.answer = order.firstIndex(of: answer) ?? answer
        return record
    }

    /// The option letters in use: `A`, `B`, ...
    public static let letters = ["A", "B", "C", "D"]
}

/// A problem in a dataset, naming the file and record.
public struct DatasetError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
