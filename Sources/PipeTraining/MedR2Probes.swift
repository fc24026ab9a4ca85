import Foundation
import PipeData
import PipeModel
import PipeRandom

/// Accuracy when the question is changed in a way that should not change the answer (Med-R2).
public struct CueResult: Codable, Equatable, Sendable {
    public var accuracy: Double
    /// Clean accuracy on the same records minus this one.
    public var drop: Double
    /// Records probed (absent in reports written before probes could be limited: all of them).
    public var count: Int?

    public init(accuracy: Double, drop: Double, count: Int? = nil) {
        self.accuracy = accuracy
        self.drop = drop
        self.count = count
    }
}

/// Med-R2's stepwise consistency on chained questions about one image.
public struct StepwiseResult: Codable, Equatable, Sendable {
    /// Chains with at least two questions scored.
    public var chains: Int
    /// Share of those chains answered correctly at every step.
    public var fullyCorrect: Double
    /// Accuracy at each chain step ("1" = modality, ...).
    public var byStep: [String: Double]
}

/// The misleading-cue variants of a set of records and the stepwise score of predictions.
public enum MedR2Probes {
    /// The hint appended to the question, naming a wrong option (its words are the rationale's own,
    /// so the tokenizer knows them).
    public static func hint(_ option: String) -> String { "so the answer is \(option)." }

    /// `record` with a hint towards one of its wrong options appended to the question (seeded).
    public static func misleading(_ record: VQARecord, random: inout SeededRandom) -> VQARecord {
        let wrong = record.options.indices.filter { $0 != record.answer }
        guard !wrong.isEmpty else { return record }
        var hinted = record
        hinted.question += " " + hint(record.options[wrong[Int(random.next() % UInt64(wrong.count))]])
        return hinted
    }

    /// `record` with its options in another order (a seeded permutation other than the identity
    /// when there are at least two options).
    public static func shuffled(_ record: VQARecord, random: inout SeededRandom) -> VQARecord {
        var order = Array(record.options.indices)
        guard order.count > 1 else { return record }
        repeat { order.shuffle(using: &random) } while order == Array(record.options.indices)
        return record.reorderingOptions(order)
    }

    /// Stepwise consistency of `predictions` for `records` (the same order).
    public static func stepwise(_ predictions: [Prediction], records: [VQARecord]) -> StepwiseResult {
        var chains: [String: [(step: Int, correct: Bool)]] = [:]
        var steps: [Int: (Int, Int)] = [:]
        for (prediction, record) in zip(predictions, records) {
            guard let chain = record.chainID, let step = record.chainStep else { continue }
            chains[chain, default: []].append((step, prediction.correct))
            steps[step, default: (0, 0)].0 += prediction.correct ? 1 : 0
            steps[step, default: (0, 0)].1 += 1
        }
        let scored = chains.values.filter { $0.count >= 2 }
        let full = scored.filter { $0.allSatisfy(\.correct) }.count
        return StepwiseResult(chains: scored.count, fullyCorrect: scored.isEmpty ? 0 : Double(full) / Double(scored.count),
                              byStep: Dictionary(uniqueKeysWithValues: steps.map { ("\($0.key)", Double($0.value.0) / Double($0.value.1)) }))
    }
}
