import Foundation
import PipeData
import PipeModel
import PipeRandom
import PipeTestSupport
import Testing
@testable import PipeTraining

/// FGSM and PGD on the pixels: the perturbation stays in the ball and in [0, 1], the attack loss
/// rises, eps 0 changes nothing, and a batch is attacked as its images one by one (up to rounding).
struct AttackTests {
    struct Setup {
        var model: VisionLanguageModel
        var dataset: VQADataset
        var examples: [Example]
        var answers: [[Int32]]
        var directory: TemporaryDirectory
    }

    static func setup() throws -> Setup {
        let (dataset, directory) = try SFTTrainerTests.dataset(images: 16)
        let tokenizer = Tokenizer(texts: dataset.vocabularyTexts())
        var config = ModelConfig(imageSize: 16, patch: 8, dim: 16, heads: 2, layers: 1, visionLayers: 1, mlpRatio: 2, maxLen: 80)
        config.vocabSize = tokenizer.count
        var model = try VisionLanguageModel(config: config, seed: 1)
        var data = TestData(seed: 2)
        model.parameters.values = data.normal(model.parameters.count, std: 0.3)
        let builder = ExampleBuilder(tokenizer: tokenizer, mode: .instruct, records: dataset.index.records.map(\.record))
        // Three examples whose prompts have the same length, so the batch needs no padding.
        let all = dataset.index.records.map(builder.example)
        let length = Dictionary(grouping: all, by: \.prompt.count).max { $0.value.count < $1.value.count }!.key
        let examples = Array(all.filter { $0.prompt.count == length }.prefix(3))
        let answers = examples.map { tokenizer.encode("<answer> \($0.record.answerLetter) </answer>") }
        return Setup(model: model, dataset: dataset, examples: examples, answers: answers, directory: directory)
    }

    static let settings: [AttackSettings] = [
        AttackSettings(method: .fgsm, eps: 4.0 / 255, alpha: 0, steps: 1),
        AttackSettings(method: .pgdLinf, eps: 4.0 / 255, alpha: 1.0 / 255, steps: 5),
        AttackSettings(method: .pgdL2, eps: 0.5, alpha: 0.2, steps: 5),
    ]

    @Test(arguments: settings)
    func staysInTheBallAndRaisesTheLoss(settings: AttackSettings) throws {
        let s = try Self.setup()
        let attacker = Attacker(s.model)
        var forced = s.examples
        for i in forced.indices { forced[i].target = s.answers[i] }
        let batch = TokenBatch(forced, dataset: s.dataset)
        let adversarial = attacker.attack(parameters: s.model.parameters.values, images: batch.images, batch: batch, settings: settings,
                                          seeds: [1, 2, 3])
        let pixels = attacker.pixels
        for image in 0..<batch.b {
            let delta = (0..<pixels).map { adversarial[image * pixels + $0] - batch.images[image * pixels + $0] }
            if settings.method == .pgdL2 {
                #expect(Attacker.norm(delta) <= Float(settings.eps) + 1e-4)
            } else {
                #expect(delta.allSatisfy { abs($0) <= Float(settings.eps) + 1e-6 })
            }
        }
        #expect(adversarial.allSatisfy { $0 >= 0 && $0 <= 1 })
        let clean = attacker.lossAndGradient(parameters: s.model.parameters.values, images: batch.images, batch: batch).losses
        let attacked = attacker.lossAndGradient(parameters: s.model.parameters.values, images: adversarial, batch: batch).losses
        #expect(attacked.reduce(0, +) > clean.reduce(0, +), "\(settings.method): \(clean) -> \(attacked)")
    }

    @Test func zeroEpsIsTheIdentityAndBatchesEqualSingles() throws {
        let s = try Self.setup()
        let attacker = Attacker(s.model)
        var zero = AttackSettings.defaults(.pgdLinf)
        zero.eps = 0
        let batchImages = TokenBatch(s.examples, dataset: s.dataset).images
        #expect(attacker.attack(parameters: s.model.parameters.values, examples: s.examples, dataset: s.dataset, answerTargets: s.answers,
                                settings: zero, seeds: [1, 2, 3]) == batchImages)
        for settings in Self.settings {
            let together = attacker.attack(parameters: s.model.parameters.values, examples: s.examples, dataset: s.dataset,
                                           answerTargets: s.answers, settings: settings, seeds: [7, 8, 9])
            let single = (0..<3).flatMap { i in
                attacker.attack(parameters: s.model.parameters.values, examples: [s.examples[i]], dataset: s.dataset,
                                answerTargets: [s.answers[i]], settings: settings, seeds: [[7, 8, 9][i]])
            }
            // Equal up to rounding: OpenBLAS may order a product's sums differently for a taller
            // batch, which can flip the sign of a gradient component within 1e-7 of zero.
            #expect(together.count == single.count)
            let differing = zip(together, single).filter { abs($0 - $1) > 1e-4 }.count
            let largest = zip(together, single).map { abs($0 - $1) }.max() ?? 0
            #expect(differing * 1000 <= together.count, "\(settings.method): \(differing) of \(together.count) pixels differ")
            #expect(largest <= Float(2 * max(settings.alpha, settings.eps)) + 1e-6)
        }
    }
}

/// AT-GRPO's pieces: the eps warm-up, the attacked share, and chunked attacks that do not depend
/// on the number of attackers.
struct AdversarialTrainingTests {
    @Test func epsWarmsUpAndTheShareIsRounded() {
        let training = AdversarialTraining(attack: AttackSettings(method: .pgdLinf, eps: 0.04, alpha: 0.01, steps: 3), fraction: 0.3,
                                           epsWarmupSteps: 4)
        #expect((0..<6).map { training.attack(at: $0).eps } == [0.01, 0.02, 0.03, 0.04, 0.04, 0.04])
        #expect(training.attack(at: 1).alpha == 0.005)
        #expect([1, 2, 4, 8, 10].map(training.attacked(of:)) == [1, 1, 1, 2, 3])
        #expect(AdversarialTraining(attack: training.attack, fraction: 0).attacked(of: 8) == 0)
        #expect(AdversarialTraining(attack: training.attack, fraction: 1).attacked(of: 8) == 8)
    }

    @Test func perturbedExamplesStayInTheBallWhateverTheAttackers() throws {
        let s = try AttackTests.setup()
        let settings = AttackSettings(method: .pgdLinf, eps: 4.0 / 255, alpha: 1.0 / 255, steps: 3)
        let one = Attacker.perturb(s.examples, attackers: [Attacker(s.model)], parameters: s.model.parameters.values, dataset: s.dataset,
                                   settings: settings, seed: 5)
        let two = Attacker.perturb(s.examples, attackers: [Attacker(s.model), Attacker(s.model)], parameters: s.model.parameters.values,
                                   dataset: s.dataset, settings: settings, seed: 5)
        #expect(one.map(\.pixels) == two.map(\.pixels))
        for (example, perturbed) in zip(s.examples, one) {
            let clean = Array(example.image(in: s.dataset)), pixels = try #require(perturbed.pixels)
            #expect(pixels != clean)
            #expect(zip(pixels, clean).allSatisfy { abs($0 - $1) <= Float(settings.eps) + 1e-6 && $0 >= 0 && $0 <= 1 })
            #expect(Array(perturbed.image(in: s.dataset)) == pixels && perturbed.prompt == example.prompt)
        }
    }
}
