import PipeData
import PipeModel

/// One question made model-ready: prompt and target token ids and its image.
public struct Example: Sendable {
    public var record: VQARecord
    /// Row of the image in the dataset.
    public var image: Int
    /// `<bos>` + prompt.
    public var prompt: [Int32]
    /// Response + `<eos>`.
    public var target: [Int32]
}

/// Builds examples from dataset records in Med-R1's formats.
public struct ExampleBuilder: Sendable {
    public var tokenizer: Tokenizer
    public var mode: ReasoningMode
    /// For each image path, the answers of its chained questions by question type (the image's
    /// known attributes, used for `cot` rationales).
    private var attributes: [String: [String: String]] = [:]

    public init(tokenizer: Tokenizer, mode: ReasoningMode, records: [VQARecord]) {
        self.tokenizer = tokenizer
        self.mode = mode
        for record in records {
            attributes[record.imagePath, default: [:]][record.questionType] = record.options[record.answer]
        }
    }

    /// The rationale for `record` from its image's known attributes.
    public func rationale(for record: VQARecord) -> String {
        let known = attributes[record.imagePath] ?? [:]
        return Prompting.rationale(modality: record.modality, anatomy: known["Anatomy Identification"],
                                   finding: known["Disease Diagnosis"], grade: known["Lesion Grading"],
                                   answer: record.options[record.answer], options: record.options)
    }

    public func prompt(for record: VQARecord) -> [Int32] {
        [Tokenizer.bos] + tokenizer.encode(Prompting.prompt(record.question, options: record.options, mode: mode))
    }

    public func example(_ entry: DatasetIndex.Entry) -> Example {
        let record = entry.record
        let target = tokenizer.encode(Prompting.target(letter: record.answerLetter, rationale: rationale(for: record), mode: mode))
        return Example(record: record, image: entry.image, prompt: prompt(for: record), target: target + [Tokenizer.eos])
    }
}
