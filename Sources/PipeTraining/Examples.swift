import PipeData
import PipeModel

/// One question made model-ready: prompt and target token ids and its image.
public struct Example: Sendable {
    public var record: VQARecord
    /// Row of the image in the dataset.
    public var image: Int
    /// `<bos>` + prompt.
    public var prompt: [Int32]
    /// The prompt's segment ids: 1 to 4 on the tokens of options A to D (letter, colon and text), 0 elsewhere.
    public var promptSegments: [Int32]
    /// Response + `<eos>`.
    public var target: [Int32]
    /// Pixels (H, W, 3) in [0, 1] that replace the dataset's image (an adversarial version of it); nil
    /// for the image itself.
    public var pixels: [Float]? = nil

    /// Throws, naming the first record, when a prompt leaves no room to generate within `maxLen`
    /// (the policy's position table): generation needs at least one free position.
    public static func requireRoomToGenerate(_ examples: [Example], maxLen: Int) throws {
        guard let long = examples.first(where: { $0.prompt.count >= maxLen }) else { return }
        throw TrainingError("record \(long.record.questionID): its prompt has \(long.prompt.count) tokens, and the policy's max_len is "
                            + "\(maxLen); warm the policy up with a larger model.max_len")
    }

    /// The example's image: `pixels` when set, else its row of the dataset.
    public func image(in dataset: VQADataset) -> ArraySlice<Float> {
        if let pixels { return pixels[...] }
        let start = image * dataset.imagePixels
        return dataset.pixels[start..<(start + dataset.imagePixels)]
    }
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

    /// The prompt's tokens and segment ids (question, then each option line, then the instruction;
    /// the same tokens as the prompt's text).
    public func prompt(question: String, options: [String]) -> (tokens: [Int32], segments: [Int32]) {
        var tokens = [Tokenizer.bos] + tokenizer.encode(question)
        var segments = [Int32](repeating: 0, count: tokens.count)
        for (k, (letter, option)) in zip(VQARecord.letters, options).enumerated() {
            let line = tokenizer.encode("\(letter): \(option)")
            tokens += line
            segments += [Int32](repeating: Int32(k + 1), count: line.count)
        }
        let instruction = tokenizer.encode(Prompting.instruction(mode))
        return (tokens + instruction, segments + [Int32](repeating: 0, count: instruction.count))
    }

    public func example(_ entry: DatasetIndex.Entry) -> Example {
        example(entry.record, image: entry.image)
    }

    /// The example for `record` (which may have its options reordered) on image row `image`.
    public func example(_ record: VQARecord, image: Int) -> Example {
        let target = tokenizer.encode(Prompting.target(letter: record.answerLetter, rationale: rationale(for: record), mode: mode))
        let (prompt, segments) = prompt(question: record.question, options: record.options)
        return Example(record: record, image: image, prompt: prompt, promptSegments: segments, target: target + [Tokenizer.eos])
    }
}
