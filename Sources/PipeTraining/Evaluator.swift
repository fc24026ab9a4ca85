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
                for example in chunk {
                    let start = example.image * dataset.imagePixels
                    images.append(contentsOf: dataset.pixels[start..<(start + dataset.imagePixels)])
                }
                results[index] = generator.generate(parameters: model.parameters.values, images: images, prompts: chunk.map(\.prompt),
                                                    segments: chunk.map(\.promptSegments),
                                                    sampling: .greedy(maxNewTokens: maxNewTokens), seeds: chunk.map { _ in 0 })
            }
        }
        return results.values.flatMap { $0 ?? [] }
    }

    public func evaluate(model: VisionLanguageModel, tokenizer: Tokenizer, dataset: VQADataset, examples: [Example]) -> EvaluationResult {
        let outputs = completions(model: model, dataset: dataset, examples: examples)
        var right = 0, wellFormed = 0, tokens = 0
        var byModality: [String: (Int, Int)] = [:], byType: [String: (Int, Int)] = [:]
        for (example, output) in zip(examples, outputs) {
            let text = tokenizer.decode(output)
            let correct = Prompting.answerLetter(in: text) == example.record.answerLetter
            right += correct ? 1 : 0
            wellFormed += Prompting.isWellFormed(text, mode: mode) ? 1 : 0
            tokens += output.count
            byModality[example.record.modality, default: (0, 0)].0 += correct ? 1 : 0
            byModality[example.record.modality, default: (0, 0)].1 += 1
            byType[example.record.questionType, default: (0, 0)].0 += correct ? 1 : 0
            byType[example.record.questionType, default: (0, 0)].1 += 1
        }
        let n = max(1, examples.count)
        return EvaluationResult(count: examples.count, accuracy: Double(right) / Double(n), formatRate: Double(wellFormed) / Double(n),
                                meanCompletionTokens: Double(tokens) / Double(n),
                                byModality: byModality.mapValues { Double($0.0) / Double($0.1) },
                                byQuestionType: byType.mapValues { Double($0.0) / Double($0.1) })
    }
}
