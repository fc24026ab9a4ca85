import Foundation

/// Med-R1's prompt and answer formats.
public enum ReasoningMode: String, Codable, Sendable, CaseIterable {
    /// `<think> ... </think> <answer> X </answer>`
    case cot
    /// `<answer> X </answer>`
    case instruct
}

/// Builds prompts and targets, and reads answers back, the way Med-R1 does.
public enum Prompting {
    /// The question with its options, one per line: `A: text`.
    public static func question(_ question: String, options: [String]) -> String {
        let letters = ["A", "B", "C", "D"]
        return ([question] + zip(letters, options).map { "\($0): \($1)" }).joined(separator: "\n")
    }

    /// Med-R1's instruction after the question (R1-V's template for `cot`).
    public static func instruction(_ mode: ReasoningMode) -> String {
        switch mode {
        case .cot: return "First output the thinking process in <think> </think> tags and then output the final answer in <answer> </answer> tags."
        case .instruct: return "Output the final answer in <answer> </answer> tags."
        }
    }

    /// The full prompt text.
    public static func prompt(_ question: String, options: [String], mode: ReasoningMode) -> String {
        "\(Self.question(question, options: options)) \(instruction(mode))"
    }

    /// The target response: for `cot`, a short rationale from the image's known attributes, then the answer.
    public static func target(letter: String, rationale: String, mode: ReasoningMode) -> String {
        switch mode {
        case .cot: return "<think> \(rationale) </think> <answer> \(letter) </answer>"
        case .instruct: return "<answer> \(letter) </answer>"
        }
    }

    /// A rationale from what is known of the image (modality, region, finding and grade when the
    /// dataset holds them), the answer's text, then each option set beside it and checked, so that the
    /// letter follows from the steps before it:
    /// `a CT image of the chest. finding: cyst, mild. so the answer is chest. A: brain vs chest no. B: chest vs chest yes.`
    /// Writing the answer again beside each option makes the check a comparison of neighbouring
    /// words; without it the small policy learned the check only with twice the training steps.
    public static func rationale(modality: String, anatomy: String?, finding: String?, grade: String?, answer: String,
                                 options: [String]) -> String {
        var parts = ["a \(modality) image"]
        if let anatomy { parts.append("of the \(anatomy)") }
        var text = parts.joined(separator: " ") + "."
        if let finding { text += " finding: \(finding)" + (grade.map { ", \($0)" } ?? "") + "." } else if let grade { text += " grade: \(grade)." }
        text += " so the answer is \(answer)."
        for (letter, option) in zip(["A", "B", "C", "D"], options) { text += " \(letter): \(option) vs \(answer) \(option == answer ? "yes" : "no")." }
        return text
    }

    /// The letter in `<answer> X </answer>` (Med-R1's evaluation: the first match of
    /// `<answer>\s*(\w+)\s*</answer>`), or nil.
    public static func answerLetter(in completion: String) -> String? {
        guard let match = answerPattern.firstMatch(in: completion, range: NSRange(completion.startIndex..., in: completion)),
              let range = Range(match.range(at: 1), in: completion) else { return nil }
        return String(completion[range])
    }

    /// Med-R1's format reward: the whole completion matches `<think>.*?</think>\s*<answer>.*?</answer>`
    /// (cot) or `\s*<answer>.*?</answer>` (instruct), nothing before or after (`.` matches newlines).
    public static func isWellFormed(_ completion: String, mode: ReasoningMode) -> Bool {
        let pattern = mode == .cot ? cotPattern : instructPattern
        return pattern.firstMatch(in: completion, range: NSRange(completion.startIndex..., in: completion)) != nil
    }

    // The patterns are constants; compiling them cannot fail.
    private static let answerPattern = try! NSRegularExpression(pattern: #"<answer>\s*(\w+)\s*</answer>"#)
    private static let cotPattern = try! NSRegularExpression(pattern: #"\A<think>.*?</think>\s*<answer>.*?</answer>\z"#,
                                                            options: [.dotMatchesLineSeparators])
    private static let instructPattern = try! NSRegularExpression(pattern: #"\A\s*<answer>.*?</answer>\z"#,
                                                                 options: [.dotMatchesLineSeparators])
}
