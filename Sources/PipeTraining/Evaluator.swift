import Foundation
import PipeData
import PipeModel

/// Accuracy of greedy decoding on a set of records, as Med-R1 scores it: the letter in
/// `<answer>\s*(\w+)\s*</answer>` must equal the ground truth; no match counts as wrong.
public struct EvaluationResult: Codable, Equatable, Sendable {
    public var count: Int
    public var accuracy: Double
    public var formatRate: Double
    public var meanCompletionTokens: Double
    public var byModality: [String: Double]
    public var byQuestionType: [String: Double]
}

/// One scored answer (a line of `predictions.jsonl`).
public struct Prediction: Codable, Equatable, Sendable {
    public var questionID: String
    public var modality: String
    public var questionType: String
    /// The ground-truth letter.
    public var answer: String
    /// The letter read from the completion, nil when there is none.
    public var predicted: String?
    public var correct: Bool
    public var wellFormed: Bool
    public var completionTokens: Int
    public var completion: String

    enum CodingKeys: String, CodingKey {
        case questionID = "question_id", modality, questionType = "question_type", answer, predicted, correct
        case wellFormed = "well_formed", completionTokens = "completion_tokens", completion
    }

    /// The predictions as JSON lines, keys sorted.
    public static func jsonLines(_ predictions: [Prediction]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for prediction in predictions {
            data.append(try encoder.encode(prediction))
            data.append(0x0a)
        }
        return data
    }
}

extension Prediction {
    /// The prediction read from `completion` (its text, `tokens` long) to `example`'s prompt.
    public init(_ example: Example, completion: String, tokens: Int, mode: ReasoningMode) {
        let letter = Prompting.answerLetter(in: completion)
        self.init(questionID: example.record.questionID, modality: example.record.modality, questionType: example.record.questionType,
                  answer: example.record.answerLetter, predicted: letter, correct: letter == example.record.answerLetter,
                  wellFormed: Prompting.isWellFormed(completion, mode: mode), completionTokens: tokens, completion: completion)
    }
}

/// Greedy evaluation, batched, on worker threads (each its own generator).
public struct Evaluator: Sendable {
    public var mode: ReasoningMode
    public var maxNewTokens: Int
    public var batchSize = 32
    public var threads = 1

    public init(mode: ReasoningMode, maxNewTokens: Int, threads: Int = 1) {
        self.mode = mode
        self.maxNewTokens = maxNewTokens
        self.threads = max(1, threads)
    }

    /// Completions for `examples` (prompt only is used), in order.
    public func completions(model: VisionLanguageModel, dataset: VQADataset, examples: [Example]) -> [[Int32]] {
        let chunks = stride(from: 0, to: examples.count, by: batchSize).map { Array(examples[$0..<min(examples.count, $0 + batchSize)]) }
        let results = ResultSlots<[[Int32]]>(count: chunks.count)
        let threads = self.threads, maxNewTokens = self.maxNewTokens
        DispatchQueue.concurrentPerform(iterations: min(threads, max(1, chunks.count))) { worker in
            let generator = Generator(model)
            for index in stride(from: worker, to: chunks.count, by: threads) {
                let chunk = chunks[index]
                var images: [Float] = []
                for example in chunk { images.append(contentsOf: example.image(in: dataset)) }
                results[index] = generator.generate(parameters: model.parameters.values, images: images, prompts: chunk.map(\.prompt),
                                                    segments: chunk.map(\.promptSegments),
                                                    sampling: .greedy(maxNewTokens: maxNewTokens), seeds: chunk.map { _ in 0 })
            }
        }
        return results.values.flatMap { $0 ?? [] }
    }

    public func evaluate(model: VisionLanguageModel, tokenizer: Tokenizer, dataset: VQADataset, examples: [Example]) -> EvaluationResult {
        score(model: model, tokenizer: tokenizer, dataset: dataset, examples: examples).result
    }

    /// The accuracy figures and each example's prediction, in order.
    public func score(model: VisionLanguageModel, tokenizer: Tokenizer, dataset: VQADataset,
                      examples: [Example]) -> (result: EvaluationResult, predictions: [Prediction]) {
        let outputs = completions(model: model, dataset: dataset, examples: examples)
        let predictions = zip(examples, outputs).map { example, output in
            Prediction(example, completion: tokenizer.decode(output), tokens: output.count, mode: mode)
        }
        return (Self.summarize(predictions), predictions)
    }

    /// Accuracy, format rate and the breakdowns of a set of predictions.
    public static func summarize(_ predictions: [Prediction]) -> EvaluationResult {
        var byModality: [String: (Int, Int)] = [:], byType: [String: (Int, Int)] = [:]
        for prediction in predictions {
            byModality[prediction.modality, default: (0, 0)].0 += prediction.correct ? 1 : 0
            byModality[prediction.modality, default: (0, 0)].1 += 1
            byType[prediction.questionType, default: (0, 0)].0 += prediction.correct ? 1 : 0
            byType[prediction.questionType, default: (0, 0)].1 += 1
        }
        let n = Double(max(1, predictions.count))
        return EvaluationResult(count: predictions.count, accuracy: Double(predictions.filter(\.correct).count) / n,
                                formatRate: Double(predictions.filter(\.wellFormed).count) / n,
                                meanCompletionTokens: Double(predictions.reduce(0) { $0 + $1.completionTokens }) / n,
                                byModality: byModality.mapValues { Double($0.0) / Double($0.1) },
                                byQuestionType: byType.mapValues { Double($0.0) / Double($0.1) })
    }
}
