import Foundation
import PipeData
import PipeRandom
import Testing
@testable import PipeTraining

/// Med-R2's probes: misleading hints, shuffled options, stepwise consistency.
struct MedR2ProbeTests {
    static func record(_ id: String, options: [String] = ["CT", "MRI", "X-Ray"], answer: Int = 1, chain: String? = nil,
                       step: Int? = nil) -> VQARecord {
        VQARecord(questionID: id, questionType: "Modality Recognition", modality: "MRI", question: "Which modality?", options: options,
                  answer: answer, imagePath: "Images/S/\(id).jpg", dataset: "S", chainID: chain, chainStep: step)
    }

    @Test func hintsNameAWrongOptionAndShufflesMoveTheAnswer() {
        var random = SeededRandom(seed: 4)
        let base = Self.record("q")
        for _ in 0..<20 {
            let hinted = MedR2Probes.misleading(base, random: &random)
            #expect(hinted.options == base.options && hinted.answer == base.answer)
            #expect(hinted.question == "Which modality? so the answer is CT." || hinted.question == "Which modality? so the answer is X-Ray.")
            let shuffled = MedR2Probes.shuffled(base, random: &random)
            #expect(shuffled.options != base.options && Set(shuffled.options) == Set(base.options))
            #expect(shuffled.options[shuffled.answer] == "MRI")
        }
        let single = Self.record("one", options: ["CT"], answer: 0)
        #expect(MedR2Probes.misleading(single, random: &random) == single && MedR2Probes.shuffled(single, random: &random) == single)
    }

    @Test func stepwiseCountsChainsCorrectAtEveryStep() {
        let records = [Self.record("a1", chain: "a", step: 1), Self.record("a2", chain: "a", step: 2),
                       Self.record("b1", chain: "b", step: 1), Self.record("b2", chain: "b", step: 2),
                       Self.record("c1", chain: "c", step: 1), Self.record("free")]
        let correct = [true, true, true, false, true, false]
        let predictions = zip(records, correct).map { record, right in
            Prediction(questionID: record.questionID, modality: record.modality, questionType: record.questionType, answer: "B",
                       predicted: right ? "B" : "A", correct: right, wellFormed: true, completionTokens: 5, completion: "")
        }
        let result = MedR2Probes.stepwise(predictions, records: records)
        #expect(result.chains == 2, "chain c has one question scored")
        #expect(result.fullyCorrect == 0.5)
        #expect(result.byStep == ["1": 1.0, "2": 0.5])
    }
}
