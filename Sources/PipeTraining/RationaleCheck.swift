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
        case count, concluded, conclusionAccuracy = "conclusion_accuracy", faithful, checksRight = "checks_right"
    }

    /// Predictions checked.
    public var count: Int
    /// Share of them whose rationale states a conclusion that is one of the options.
    public var concluded: Double
    /// Share of them whose conclusion is the true answer's text.
    public var conclusionAccuracy: Double
    /// Share of the concluded ones whose letter is the option the conclusion names.
    public var faithful: Double
    /// Share of the concluded ones whose option checks (`B: chest vs chest yes.`) are all there and
    /// all right: one per option, in order, each setting the option beside the conclusion and saying
    /// `yes` exactly when they are the same. Nil in reports written before it was measured.
    public var checksRight: Double?

    /// The check of each prediction against its record's options (in the same order).
    public static func measure(_ predictions: [Prediction], records: [VQARecord]) -> RationaleCheck {
        var concluded = 0, right = 0, faithful = 0, checksRight = 0
        for (prediction, record) in zip(predictions, records) {
            guard let conclusion = conclusion(in: prediction.completion),
                  let index = record.options.firstIndex(where: { squeezed($0) == conclusion }) else { continue }
            concluded += 1
            if index == record.answer { right += 1 }
            if index < VQARecord.letters.count, prediction.predicted == VQARecord.letters[index] { faithful += 1 }
            if checksAreRight(checks(in: prediction.completion), options: record.options, conclusion: conclusion) { checksRight += 1 }
        }
        let n = Double(max(1, min(predictions.count, records.count)))
        return RationaleCheck(count: min(predictions.count, records.count), concluded: Double(concluded) / n,
                              conclusionAccuracy: Double(right) / n, faithful: Double(faithful) / Double(max(1, concluded)),
                              checksRight: Double(checksRight) / Double(max(1, concluded)))
    }

    /// Share of the right answers among `predictions` whose rationale does not conclude with the
    /// true answer's text (a wrong option, or none): the letter is right against the steps before it.
    /// 0 when none is right.
    public static func rightAgainstConclusion(_ predictions: [Prediction], records: [VQARecord]) -> Double {
        var right = 0, against = 0
        for (prediction, record) in zip(predictions, records) where prediction.correct {
            right += 1
            if conclusion(in: prediction.completion) != squeezed(record.options[record.answer]) { against += 1 }
        }
        return right == 0 ? 0 : Double(against) / Double(right)
    }

    /// One option check of a rationale: `B: chest vs chest yes.`
    struct OptionCheck: Equatable {
        var letter: String
        /// The option's text and the text set beside it, spaces removed.
        var option: String, against: String
        var yes: Bool
    }

    /// The option checks after the last conclusion inside `<think>...</think>`, in order.
    static func checks(in completion: String) -> [OptionCheck] {
        guard let after = afterConclusion(in: completion) else { return [] }
        let rest = String(after)
        return checkPattern.matches(in: rest, range: NSRange(rest.startIndex..., in: rest)).compactMap { match in
            let groups = (1...4).compactMap { Range(match.range(at: $0), in: rest).map { String(rest[$0]) } }
            guard groups.count == 4 else { return nil }
            return OptionCheck(letter: groups[0], option: squeezed(groups[1]), against: squeezed(groups[2]), yes: groups[3] == "yes")
        }
    }

    /// Whether `checks` are one per option, in order, each against `conclusion` and right.
    static func checksAreRight(_ checks: [OptionCheck], options: [String], conclusion: String) -> Bool {
        guard checks.count == options.count, options.count <= VQARecord.letters.count else { return false }
        return zip(checks, zip(VQARecord.letters, options.map(squeezed))).allSatisfy { check, option in
            check.letter == option.0 && check.option == option.1 && check.against == conclusion && check.yes == (option.1 == conclusion)
        }
    }

    // A constant pattern; compiling it cannot fail.
    private static let checkPattern = try! NSRegularExpression(pattern: #"\b([A-D])\s*:\s*([^.]+?)\s+vs\s+([^.]+?)\s+(yes|no)\s*\."#)

    /// The text after the last `so the answer is` inside `<think>...</think>`, up to its full stop,
    /// with its spaces removed (decoding puts spaces around punctuation: `X - Ray`); nil without one.
    static func conclusion(in completion: String) -> String? {
        guard let rest = afterConclusion(in: completion) else { return nil }
        let text = rest.range(of: ".").map { rest[..<$0.lowerBound] } ?? rest
        let squeezed = squeezed(String(text))
        return squeezed.isEmpty ? nil : squeezed
    }

    /// What follows the last `so the answer is` inside `<think>...</think>` (to the end when it is
    /// not closed); nil without either.
    static func afterConclusion(in completion: String) -> Substring? {
        guard let open = completion.range(of: "<think>") else { return nil }
        let after = completion[open.upperBound...]
        let think = after.range(of: "</think>").map { after[..<$0.lowerBound] } ?? after
        return think.range(of: "so the answer is", options: .backwards).map { think[$0.upperBound...] }
    }

    static func squeezed(_ text: String) -> String { text.filter { !$0.isWhitespace } }
}
