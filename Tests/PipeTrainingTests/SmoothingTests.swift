import Foundation
import PipeData
import PipeModel
import PipeStatistics
import PipeTestSupport
import Testing
@testable import PipeTraining

/// Randomized smoothing: CERTIFY and PREDICT's decisions on hand-made counts, the noisy-sample
/// counts of a policy, calibration's choice, and noise-augmented fine-tuning.
struct SmoothingTests {
    static func certificate(_ answer: String, _ predicted: String?, radius: Double) -> Certificate {
        Certificate(questionID: "q", modality: "CT", questionType: "t", answer: answer, predicted: predicted, radius: radius,
                    lowerBound: 0, count: 0, correct: predicted == answer)
    }

    /// A tiny policy trained on a small synthetic dataset (it answers in format).
    static func trained() throws -> (Checkpoint, VQADataset, TemporaryDirectory) {
        let (dataset, directory) = try SFTTrainerTests.dataset(images: 48)
        return (try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint, dataset, directory)
    }

    @Test func certifyAllAgreeingGivesTheLargestRadius() {
        // With all n samples on the candidate, the Clopper-Pearson bound is alpha^(1/n): for n = 100
        // and alpha = 0.001 the radius is about 1.50 sigma (ML.md's table).
        let decision = RandomizedSmoothing.certify(selection: ["B": 10], estimation: ["B": 100], alpha: 0.001, sigma: 0.25)
        #expect(decision.label == "B")
        #expect(abs(decision.lowerBound - pow(0.001, 1.0 / 100)) < 1e-12)
        #expect(abs(decision.radius - 0.25 * Statistics.normalQuantile(pow(0.001, 1.0 / 100))) < 1e-12)
        #expect(abs(decision.radius / 0.25 - 1.50) < 0.01)
        for (n, ratio) in [(1_000, 2.46), (10_000, 3.20), (100_000, 3.81)] {
            let r = RandomizedSmoothing.certify(selection: ["A": 1], estimation: ["A": n], alpha: 0.001, sigma: 1).radius
            #expect(abs(r - ratio) < 0.01, "n \(n): \(r)")
        }
    }

    @Test func theLargestRadiusAndTheSamplesToReachARadius() {
        let unanimous = RandomizedSmoothing.certify(selection: ["B": 1], estimation: ["B": 64], alpha: 0.001, sigma: 0.12)
        #expect(RandomizedSmoothing.largestRadius(sigma: 0.12, n: 64, alpha: 0.001) == unanimous.radius)
        #expect(abs(unanimous.radius - 0.152) < 0.001, "n 64 cannot certify 0.25 at sigma 0.12")
        #expect(RandomizedSmoothing.largestRadius(sigma: 1, n: 9, alpha: 0.001) == 0, "alpha^(1/9) < 0.5: abstains even when unanimous")
        for (radius, sigma, alpha) in [(0.25, 0.12, 0.001), (0.5, 0.5, 0.05), (1.0, 0.25, 0.001)] {
            let n = RandomizedSmoothing.samplesToReach(radius: radius, sigma: sigma, alpha: alpha)
            #expect(RandomizedSmoothing.largestRadius(sigma: sigma, n: n, alpha: alpha) >= radius - 1e-9)
            #expect(RandomizedSmoothing.largestRadius(sigma: sigma, n: n - 1, alpha: alpha) < radius, "\(radius) at \(sigma): \(n) is the fewest")
        }
    }

    @Test func certifyAbstainsBelowOneHalfAndUsesTheSelectionCandidate() {
        // 60 of 100: the lower bound is below 0.5.
        #expect(RandomizedSmoothing.certify(selection: ["A": 5], estimation: ["A": 60, "B": 40], alpha: 0.001, sigma: 0.5).label == nil)
        // The candidate comes from the selection counts, not from the estimation counts.
        let switched = RandomizedSmoothing.certify(selection: ["B": 5, "A": 1], estimation: ["A": 95, "B": 5], alpha: 0.001, sigma: 0.5)
        #expect(switched.label == nil && switched.radius == 0)
        #expect(abs(switched.lowerBound - Statistics.clopperPearsonLower(successes: 5, trials: 100, alpha: 0.001)) < 1e-15)
        // An unparsable majority is certified as its own class, which is never an answer.
        let unparsable = RandomizedSmoothing.certify(selection: [RandomizedSmoothing.unparsable: 9], estimation: [RandomizedSmoothing.unparsable: 50],
                                                     alpha: 0.01, sigma: 0.5)
        #expect(unparsable.label == RandomizedSmoothing.unparsable && unparsable.radius > 0)
        // Ties in the selection go to the smaller label.
        #expect(RandomizedSmoothing.ranked(["C": 3, "A": 3, "B": 1]).map(\.label) == ["A", "C", "B"])
    }

    @Test func predictAbstainsUnlessTheBinomialTestRejects() {
        // One class only: p = 2 * 0.5^k, above 0.001 for k = 10 (0.00195), below for k = 11 (0.00098).
        #expect(RandomizedSmoothing.predict(["A": 10], alpha: 0.001) == nil)
        #expect(RandomizedSmoothing.predict(["A": 11], alpha: 0.001) == "A")
        #expect(RandomizedSmoothing.predict(["A": 50, "B": 50], alpha: 0.05) == nil)
        // The test compares the top two counts only: 30 vs 10 (p 0.0022) decides at 0.01 whatever else was seen.
        #expect(RandomizedSmoothing.predict(["A": 30, "B": 10, "C": 9, "D": 8], alpha: 0.01) == "A")
        #expect(RandomizedSmoothing.predict(["A": 30, "B": 10], alpha: 0.001) == nil)
    }

    @Test func certifiedAccuracyCountsCorrectPointsWithEnoughRadius() {
        let certificates = [Self.certificate("A", "A", radius: 0.5), Self.certificate("B", "B", radius: 0.1),
                            Self.certificate("C", "D", radius: 0.9), Self.certificate("A", nil, radius: 0)]
        #expect(RandomizedSmoothing.certifiedAccuracy(certificates, at: 0) == 0.5)
        #expect(RandomizedSmoothing.certifiedAccuracy(certificates, at: 0.25) == 0.25)
        #expect(RandomizedSmoothing.certifiedAccuracy(certificates, at: 0.6) == 0)
        let summary = SmoothingSummary(sigma: 0.25, certificates: certificates, radii: [0, 0.25, 1], n: 64, alpha: 0.001)
        #expect(summary.certifiedAccuracy == ["0": 0.5, "0.25": 0.25, "1": 0])
        #expect(abs(summary.meanRadius - 0.15) < 1e-12 && summary.abstainRate == 0.25)
        // n = 64 at alpha = 0.001 certifies at most 1.27 sigma, whatever the policy.
        #expect(abs((summary.largestCertifiableRadius ?? 0) - 0.25 * 1.2690) < 0.25 * 0.001, "\(String(describing: summary.largestCertifiableRadius))")
        #expect(SmoothingCriterion.meanRadius.score(certificates) == summary.meanRadius)
        #expect(SmoothingCriterion.certifiedAccuracyAt(0.25).score(certificates) == 0.25)
        // The best score wins; a tie goes to the smaller sigma.
        #expect(SmoothingChoice.best(sigmas: [0.5, 0.12, 0.25], scores: [0.3, 0.3, 0.2]) == 1)
        #expect(SmoothingChoice.best(sigmas: [0.12, 0.25], scores: [0.1, 0.4]) == 1)
    }

    @Test func noisyCountsDoNotDependOnThreadsOrBatchSize() throws {
        let (checkpoint, dataset, directory) = try Self.trained()
        _ = directory
        let tokenizer = checkpoint.tokenizer, model = checkpoint.model
        let builder = ExampleBuilder(tokenizer: tokenizer, mode: .instruct, records: dataset.index.records.map(\.record))
        let examples = Array(dataset.index.records.prefix(5).map(builder.example))
        func counts(threads: Int, batch: Int, sigma: Double) -> [[String: Int]] {
            SmoothedClassifier(model: model, tokenizer: tokenizer, sigma: sigma, maxNewTokens: 6, batchSize: batch, threads: threads, seed: 9)
                .counts(examples, dataset: dataset, samples: 7, phase: .estimation)
        }
        let reference = counts(threads: 1, batch: 32, sigma: 4)
        #expect(reference.allSatisfy { $0.values.reduce(0, +) == 7 })
        // Each sample is greedy decoding of its own noisy image.
        let classifier4 = SmoothedClassifier(model: model, tokenizer: tokenizer, sigma: 4, maxNewTokens: 6, seed: 9)
        var noisyExamples: [Example] = []
        for (i, example) in examples.enumerated() {
            for k in 0..<7 {
                var copy = example
                copy.pixels = classifier4.noisy(example.image(in: dataset), index: i, sample: k, phase: .estimation)
                noisyExamples.append(copy)
            }
        }
        let decoded = Evaluator(mode: .instruct, maxNewTokens: 6).completions(model: model, dataset: dataset, examples: noisyExamples)
            .map { Prompting.answerLetter(in: tokenizer.decode($0)) ?? RandomizedSmoothing.unparsable }
        #expect(reference == (0..<examples.count).map { i in Dictionary(decoded[(i * 7)..<(i * 7 + 7)].map { ($0, 1) }, uniquingKeysWith: +) })
        #expect(counts(threads: 2, batch: 3, sigma: 4) == reference)
        // With almost no noise every sample is the clean greedy answer.
        let clean = Evaluator(mode: .instruct, maxNewTokens: 6).completions(model: model, dataset: dataset, examples: examples)
        let labels = clean.map { Prompting.answerLetter(in: tokenizer.decode($0)) ?? RandomizedSmoothing.unparsable }
        #expect(counts(threads: 2, batch: 4, sigma: 1e-9) == labels.map { [$0: 7] })
        // The noise has the requested spread and is not clipped.
        let classifier = SmoothedClassifier(model: model, tokenizer: tokenizer, sigma: 0.5, maxNewTokens: 6, seed: 1)
        let image = examples[0].image(in: dataset)
        let noise = zip(classifier.noisy(image, index: 0, sample: 0, phase: .selection), image).map { Double($0 - $1) }
        let std = (noise.reduce(0) { $0 + $1 * $1 } / Double(noise.count)).squareRoot()
        #expect(abs(std - 0.5) < 0.05 && noise.contains { $0 > 1 })
        #expect(classifier.noisy(image, index: 0, sample: 0, phase: .selection) != classifier.noisy(image, index: 0, sample: 0, phase: .estimation))
    }

    @Test func calibrationPicksBySigmaAndFineTunesWithNoise() throws {
        let (checkpoint, dataset, directory) = try Self.trained()
        _ = directory
        var finetune = SFTConfig()
        finetune.epochs = 1
        finetune.batchSize = 8
        finetune.microBatch = 4
        finetune.learningRate = 1e-3
        let calibration = SmoothingCalibration(sigmas: [0.1, 0.4], criterion: .certifiedAccuracyAt(0), n0: 4, n: 12, alpha: 0.05, radii: [0, 0.1],
                                               mode: .instruct, maxNewTokens: 6, batchSize: 8, threads: 2, seed: 3, finetune: finetune)
        let entries = dataset.records(.val)
        let outcome = try calibration.run(checkpoint, on: dataset, entries: entries, split: "val")
        #expect(outcome.choice.candidates.map(\.sigma) == [0.1, 0.4] && outcome.certificates.allSatisfy { $0.count == entries.count })
        let best = SmoothingChoice.best(sigmas: [0.1, 0.4], scores: outcome.choice.scores)
        #expect(outcome.choice.sigma == [0.1, 0.4][best])
        #expect(outcome.choice.scores == outcome.certificates.map { RandomizedSmoothing.certifiedAccuracy($0, at: 0) })
        // The chosen policy was fine-tuned on noisy images of its sigma, from the given weights.
        #expect(outcome.policy.info["pipe.noise_sigma"] == "\(outcome.choice.sigma)")
        #expect(outcome.policy.model.parameters.values != checkpoint.model.parameters.values)
        #expect(outcome.policy.tokenizer.count == checkpoint.tokenizer.count)
        // Bad settings are refused with a message.
        var empty = calibration
        empty.sigmas = []
        #expect(throws: TrainingError.self) { try empty.run(checkpoint, on: dataset, entries: entries, split: "val") }
        #expect(throws: TrainingError.self) { try calibration.run(checkpoint, on: dataset, entries: [], split: "val") }
    }

    @Test func spreadDrawsAcrossQuestionTypesInOrder() {
        // Five questions per image: an even stride of 5 would pick a single type.
        let items = (0..<600).map { $0 }
        let chosen = Subset.spread(items, limit: 60)
        #expect(chosen.count == 60 && chosen == chosen.sorted() && Set(chosen).count == 60)
        #expect(Set(chosen.map { $0 % 5 }).count == 5)
        #expect(Subset.spread(items, limit: 60) == chosen)
        #expect(Subset.spread(items, limit: 0) == items && Subset.spread([1, 2], limit: 5) == [1, 2])
    }
}
