import Foundation
import PipeData
import PipeModel
import Testing
@testable import PipeTraining

/// The rationale check: does a `cot` answer's rationale conclude with the true answer, and does the
/// letter answered follow from the conclusion?
struct RationaleCheckTests {
    /// A prediction on `MedR2ProbeTests.record` (options CT, MRI, X-Ray; the answer is B, MRI).
    static func prediction(_ completion: String) -> Prediction {
        let letter = Prompting.answerLetter(in: completion)
        return Prediction(questionID: "q", modality: "MRI", questionType: "Modality Recognition", answer: "B", predicted: letter,
                          correct: letter == "B", wellFormed: true, completionTokens: 1, completion: completion)
    }

    static func think(_ conclusion: String, _ letter: String) -> String {
        "<think> a MRI image of the brain . so the answer is \(conclusion) . A : CT vs \(conclusion) no . </think> <answer> \(letter) </answer>"
    }

    @Test func splitsWrongReadingsFromAnswersThatDoNotFollow() {
        let completions = [
            Self.think("MRI", "B"),       // right conclusion, follows
            Self.think("CT", "A"),        // wrong conclusion, follows
            Self.think("MRI", "C"),       // right conclusion, does not follow
            Self.think("X - Ray", "C"),   // decoded with spaces around the hyphen: X-Ray, follows
            "<think> a MRI image . </think> <answer> B </answer>",   // no conclusion
            Self.think("PET", "B"),       // a conclusion that is no option
            "<answer> B </answer> so the answer is MRI .",              // outside the rationale
        ]
        let records = completions.map { _ in MedR2ProbeTests.record("q") }
        let check = RationaleCheck.measure(completions.map(Self.prediction), records: records)
        #expect(check.count == 7)
        #expect(check.concluded == 4.0 / 7)
        #expect(check.conclusionAccuracy == 2.0 / 7)
        #expect(check.faithful == 3.0 / 4)
    }

    @Test func theLastConclusionInTheRationaleCounts() {
        #expect(RationaleCheck.conclusion(in: "<think> so the answer is CT . so the answer is macular edema . </think>") == "macularedema")
        #expect(RationaleCheck.conclusion(in: "<think> so the answer is </think> <answer> A </answer>") == nil)
        #expect(RationaleCheck.conclusion(in: "") == nil)
    }

    @Test func nothingToCheckIsNotADivisionByZero() {
        let empty = RationaleCheck.measure([], records: [])
        #expect(empty == RationaleCheck(count: 0, concluded: 0, conclusionAccuracy: 0, faithful: 0))
    }
}
