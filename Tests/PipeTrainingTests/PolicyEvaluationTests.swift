import Foundation
import PipeData
import PipeModel
import Testing
@testable import PipeTraining

/// `PolicyEvaluation` on a briefly trained tiny policy: Med-R2's cue probes on all records or on a
/// fixed sample of them.
struct PolicyEvaluationTests {
    @Test func cueProbesOnASampleCompareWithCleanAccuracyOnThatSample() throws {
        let (dataset, _) = try SFTTrainerTests.dataset()
        let checkpoint = try SFTTrainer(SFTTrainerTests.config(threads: 2)).train(on: dataset).checkpoint
        let entries = dataset.records(.test)
        func run(cueLimit: Int) throws -> EvaluationOutput {
            try PolicyEvaluation(mode: .instruct, maxNewTokens: 6, attacks: [], cueLimit: cueLimit, threads: 2, seed: 9)
                .run(checkpoint, on: dataset, entries: entries, split: "test")
        }
        let all = try run(cueLimit: 0)
        #expect(all.report.clean.accuracy > 0, "the policy answers some questions, so the drops below can be wrong")
        #expect(all.report.cues.values.allSatisfy { $0.count == entries.count })
        #expect(try run(cueLimit: entries.count + 5).report == all.report, "a limit above the records probes them all")

        let limit = entries.count / 2
        let sample = try run(cueLimit: limit)
        #expect(sample.report.clean == all.report.clean && sample.predictions == all.predictions, "clean scoring does not change")
        let probed = Subset.spread(sample.predictions, limit: limit)
        let cleanOnProbed = Double(probed.filter(\.correct).count) / Double(limit)
        #expect(cleanOnProbed != all.report.clean.accuracy, "the sample's clean accuracy differs from the whole split's")
        for name in ["misleading_hint", "shuffled_options"] {
            let cue = try #require(sample.report.cues[name])
            #expect(cue.count == limit)
            #expect(abs(cue.drop - (cleanOnProbed - cue.accuracy)) < 1e-12, "\(name): the drop is against the same records")
            let right = cue.accuracy * Double(limit)
            #expect(abs(right - right.rounded()) < 1e-9, "\(name): accuracy over \(limit) records")
        }
        #expect(PolicyEvaluation.markdown(sample.report).contains("| misleading hint | \(limit) |"))
        #expect(all.report.rationale == nil && !PolicyEvaluation.markdown(all.report).contains("Rationale:"), "instruct answers have none")
    }

    /// `cot` evaluations check every clean answer against its rationale (`RationaleCheckTests` has the rules).
    @Test func cotEvaluationsCheckTheRationale() throws {
        let (dataset, _) = try SFTTrainerTests.dataset()
        var config = SFTTrainerTests.config(threads: 2)
        config.mode = .cot
        config.model = ModelConfig(patch: 8, dim: 16, heads: 2, layers: 1, visionLayers: 1, mlpRatio: 2, maxLen: 160)
        config.evalMaxNewTokens = 40
        let checkpoint = try SFTTrainer(config).train(on: dataset).checkpoint
        let entries = dataset.records(.test)
        let output = try PolicyEvaluation(mode: .cot, maxNewTokens: 40, attacks: [], cueLimit: 1, threads: 2, seed: 9)
            .run(checkpoint, on: dataset, entries: entries, split: "test")
        let records = entries.map(\.record)
        let check = try #require(output.report.rationale)
        #expect(check == RationaleCheck.measure(output.predictions, records: records) && check.count == entries.count)
        #expect(PolicyEvaluation.markdown(output.report).contains(String(format: "Rationale: %.3f of %d answers", check.conclusionAccuracy, entries.count)))
        #expect(PolicyEvaluation.markdown(output.report).contains(String(format: "the option checks after it are all right in %.3f", check.checksRight ?? -1)))
    }
}
