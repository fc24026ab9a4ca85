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
        #expect(check.checksRight == 0)   // these rationales check one option of three
    }

    /// GRPO's rollouts are rewarded for the letter alone: the share of right answers whose own
    /// conclusion is not the true answer is the share rewarded against their steps.
    @Test func rightAnswersAgainstTheirConclusion() {
        let completions = [
            Self.think("MRI", "B"),       // right, by its conclusion
            Self.think("CT", "B"),        // right against its conclusion
            "<think> a MRI image . </think> <answer> B </answer>",   // right with no conclusion
            Self.think("X - Ray", "B"),   // right against its conclusion
            Self.think("CT", "A"),        // wrong: not counted
        ]
        let records = completions.map { _ in MedR2ProbeTests.record("q") }
        #expect(RationaleCheck.rightAgainstConclusion(completions.map(Self.prediction), records: records) == 3.0 / 4)
        #expect(RationaleCheck.rightAgainstConclusion([Self.prediction(Self.think("CT", "A"))], records: [records[0]]) == 0)
        #expect(RationaleCheck.rightAgainstConclusion([], records: []) == 0)
    }

    /// A rationale with every option of `MedR2ProbeTests.record` (CT, MRI, X-Ray) checked.
    static func checked(_ conclusion: String, _ verdicts: [String], letter: String) -> String {
        let checks = zip(["A : CT", "B : MRI", "C : X - Ray"], verdicts).map { "\($0) vs \(conclusion) \($1) ." }.joined(separator: " ")
        return "<think> a MRI image . so the answer is \(conclusion) . \(checks) </think> <answer> \(letter) </answer>"
    }

    @Test func optionChecksAreRightOnlyWhenEveryOptionIsComparedCorrectly() {
        let completions = [
            Self.checked("MRI", ["no", "yes", "no"], letter: "B"),       // right
            Self.checked("X - Ray", ["no", "no", "yes"], letter: "C"),   // right, for a wrong conclusion (spaces squeezed)
            Self.checked("MRI", ["yes", "yes", "no"], letter: "A"),      // a wrong option checked yes
            Self.checked("MRI", ["no", "no", "no"], letter: "A"),        // the concluded option checked no
            "<think> so the answer is MRI . A : CT vs MRI no . B : MRI vs MRI yes . </think> <answer> B </answer>",   // C missing
            "<think> so the answer is MRI . A : CT vs CT no . B : MRI vs CT no . C : X - Ray vs CT no . </think> <answer> B </answer>",   // against another text
            "<think> so the answer is MRI . B : MRI vs MRI yes . A : CT vs MRI no . C : X - Ray vs MRI no . </think> <answer> B </answer>",   // out of order
        ]
        let records = completions.map { _ in MedR2ProbeTests.record("q") }
        let check = RationaleCheck.measure(completions.map(Self.prediction), records: records)
        #expect(check.concluded == 1)
        #expect(check.checksRight == 2.0 / 7)
        #expect(RationaleCheck.checks(in: completions[1]) == [
            .init(letter: "A", option: "CT", against: "X-Ray", yes: false), .init(letter: "B", option: "MRI", against: "X-Ray", yes: false),
            .init(letter: "C", option: "X-Ray", against: "X-Ray", yes: true),
        ])
        #expect(RationaleCheck.checks(in: "<answer> A </answer> so the answer is CT . A : CT vs CT yes .").isEmpty)
    }

    @Test func theLastConclusionInTheRationaleCounts() {
        #expect(RationaleCheck.conclusion(in: "<think> so the answer is CT . so the answer is macular edema . </think>") == "macularedema")
        #expect(RationaleCheck.conclusion(in: "<think> so the answer is </think> <answer> A </answer>") == nil)
        #expect(RationaleCheck.conclusion(in: "") == nil)
    }

    @Test func reportsWrittenBeforeTheChecksWereMeasuredStillRead() throws {
        let json = #"{"count": 10, "concluded": 1, "conclusion_accuracy": 0.5, "faithful": 0.9}"#
        let check = try JSONDecoder().decode(RationaleCheck.self, from: Data(json.utf8))
        #expect(check == RationaleCheck(count: 10, concluded: 1, conclusionAccuracy: 0.5, faithful: 0.9, checksRight: nil))
    }

    @Test func nothingToCheckIsNotADivisionByZero() {
        let empty = RationaleCheck.measure([], records: [])
        #expect(empty == RationaleCheck(count: 0, concluded: 0, conclusionAccuracy: 0, faithful: 0, checksRight: 0))
    }
}
