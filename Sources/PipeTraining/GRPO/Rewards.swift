import Foundation
import PipeModel

/// Med-R1's rewards: format (0/1) + accuracy (0/1), 2 at most.
public enum Rewards {
    /// 1 when the whole completion has the mode's format (`Prompting.isWellFormed`), else 0.
    public static func format(_ completion: String, mode: ReasoningMode) -> Double {
        Prompting.isWellFormed(completion, mode: mode) ? 1 : 0
    }

    /// 1 when the text inside the first `<answer>...</answer>`, trimmed, equals `truth` exactly
    /// (`b` is not `B`; `A B` is not `A`; no tags is 0), else 0.
    public static func accuracy(_ completion: String, truth: String) -> Double {
        guard let match = answerContent.firstMatch(in: completion, range: NSRange(completion.startIndex..., in: completion)),
              let range = Range(match.range(at: 1), in: completion) else { return 0 }
        return completion[range].trimmingCharacters(in: .whitespacesAndNewlines) == truth ? 1 : 0
    }

    /// format + accuracy.
    public static func total(_ completion: String, truth: String, mode: ReasoningMode) -> Double {
        format(completion, mode: mode) + accuracy(completion, truth: truth)
    }

    // A constant pattern; compiling it cannot fail.
    private static let answerContent = try! NSRegularExpression(pattern: "<answer>(.*?)</answer>", options: [.dotMatchesLineSeparators])
}
