import Foundation
import PipeData
import PipeModel

/// How chain-of-thought answers relate to their own rationale. pipe's `cot` rationale states its
/// conclusion (`so the answer is TEXT.`) and then checks each option against it, so an answer can
/// be wrong in two ways: the conclusion names the wrong option (what the rationale read from the
/// image is wrong), or the letter answered is not the option the conclusion names (the answer does
/// not follow from the steps). Med-R2 asks for this split; `evaluate` reports it for `cot`.
public struct RationaleCheck: Codable, Equatable, Sendable {
    enum CodingKeys: String, CodingKey {
        case count, concluded, conclusionAccuracy = "conclusion_accuracy", faithful
    }

    /// Predictions checked.
    public var count: Int
    /// Share of them whose rationale states a conclusion that is one of the options.
    public var concluded: Double
    /// Share of them whose conclusion is the true answer's text.
    public var conclusionAccuracy: Double
    /// Share of the concluded ones whose letter is the option the conclusion names.
    public var faithful: Double

    /// The check of each prediction against its record's options (in the same order).
    public static func measure(_ predictions: [Prediction], records: [VQARecord]) -> RationaleCheck {
        var concluded = 0, right = 0, faithful = 0
        for (prediction, record) in zip(predictions, records) {
            guard let conclusion = conclusion(in: prediction.completion),
                  let index = record.options.firstIndex(where: { squeezed($0) == conclusion }) else { continue }
            concluded += 1
            if index == record.answer { right += 1 }
            if index < VQARecord.letters.count, prediction.predicted == VQARecord.letters[index] { faithful += 1 }
        }
        let n = Double(max(1, min(predictions.count, records.count)))
        return RationaleCheck(count: min(predictions.count, records.count), concluded: Double(concluded) / n,
                              conclusionAccuracy: Double(right) / n, faithful: Double(faithful) / Double(max(1, concluded)))
    }

    /// The text after the last `so the answer is` inside `<think>...</think>`, up to its full stop,
    /// with its spaces removed (decoding puts spaces around punctuation: `X - Ray`); nil without one.
    static func conclusion(in completion: String) -> String? {
        guard let open = completion.range(of: "<think>") else { return nil }
        let after = completion[open.upperBound...]
        let think = after.range(of: "</think>").map { after[..<$0.lowerBound] } ?? after
        guard let start = think.range(of: "so the answer is", options: .backwards) else { return nil }
        let rest = think[start.upperBound...]
        let text = rest.range(of: ".").map { rest[..<$0.lowerBound] } ?? rest
        let squeezed = squeezed(String(text))
        return squeezed.isEmpty ? nil : squeezed
    }

    static func squeezed(_ text: String) -> String { text.filter { !$0.isWhitespace } }
}
