import Foundation
import PipeData
import PipeModel
import PipeSynth
import PipeTestSupport
import Testing
@testable import PipeTraining

/// SFT on a tiny synthetic dataset: learning, determinism across thread counts, and bad input.
struct SFTTrainerTests {
    /// A 48-image synthetic dataset at 16x16, unpacked.
    static func dataset(images: Int = 48, test: Double = 0.2) throws -> (VQADataset, TemporaryDirectory) {
        let directory = try TemporaryDirectory("sft")
        var config = SynthConfig()
        config.images = images
        config.size = 16
        config.seed = 3
        config.modalities = ["CT", "Fundus Photography"]
        config.difficulty = Difficulty.presets["easy"]!
        _ = try SynthGenerator(config).write(to: directory.path + "/synth.zip")
        var unpacker = DatasetUnpacker()
        unpacker.size = 16
        unpacker.splits = SplitPlan(test: test, val: 0.2)
        let output = directory.path + "/dataset"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        _ = try unpacker.unpack(archive: directory.path + "/synth.zip", into: output)
        return (try VQADataset(directory: output), directory)
    }

    static func config(threads: Int = 1) -> SFTConfig {
        var config = SFTConfig()
        config.mode = .instruct
        config.model = ModelConfig(patch: 8, dim: 16, heads: 2, layers: 1, visionLayers: 1, mlpRatio: 2, maxLen: 80)
        config.epochs = 4
        config.batchSize = 16
        config.microBatch = 4
        config.learningRate = 2e-2
        config.warmupSteps = 2
        config.threads = threads
        config.seed = 5
        config.evalMaxNewTokens = 6
        return config
    }

    @Test func learnsAndIsTheSameForAnyThreadCount() throws {
        let (dataset, directory) = try Self.dataset()
        let one = try SFTTrainer(Self.config(threads: 1)).train(on: dataset)
        let two = try SFTTrainer(Self.config(threads: 2)).train(on: dataset)
        #expect(try one.checkpoint.encoded() == (try two.checkpoint.encoded()), "the checkpoint does not depend on the threads")
        #expect(one.curve.map(\.loss) == two.curve.map(\.loss))
        let first = one.curve.prefix(2).map(\.loss).reduce(0, +), last = one.curve.suffix(2).map(\.loss).reduce(0, +)
        #expect(last < first * 0.7, "the loss falls: \(one.curve.map(\.loss))")
        #expect(one.validation.count == dataset.records(.val).count)
        #expect(one.predictions.map(\.questionID) == dataset.records(.val).map(\.record.questionID))
        #expect(Evaluator.summarize(one.predictions) == one.validation)
        #expect(one.validation.formatRate > 0.5, "instruct format learned: \(one.validation)")
        // The saved checkpoint decodes exactly as the trained model did.
        let path = directory.path + "/model.safetensors"
        try one.checkpoint.write(to: path)
        let loaded = try Checkpoint.read(from: path)
        let builder = ExampleBuilder(tokenizer: loaded.tokenizer, mode: .instruct, records: dataset.index.records.map(\.record))
        let examples = dataset.records(.val).map(builder.example)
        let evaluator = Evaluator(mode: .instruct, maxNewTokens: 6)
        #expect(evaluator.completions(model: loaded.model, dataset: dataset, examples: examples)
                == evaluator.completions(model: one.checkpoint.model, dataset: dataset, examples: examples))
    }

    @Test func cotTargetsCarryTheImagesAttributes() throws {
        let (dataset, _) = try Self.dataset(images: 8)
        let tokenizer = Tokenizer(texts: dataset.vocabularyTexts())
        let builder = ExampleBuilder(tokenizer: tokenizer, mode: .cot, records: dataset.index.records.map(\.record))
        let entry = try #require(dataset.index.records.first { $0.record.questionType == "Other Biological Attributes" })
        let siblings = dataset.index.records.filter { $0.record.imagePath == entry.record.imagePath }.map(\.record)
        let anatomy = try #require(siblings.first { $0.questionType == "Anatomy Identification" })
        let rationale = builder.rationale(for: entry.record)
        #expect(rationale.contains("a \(entry.record.modality) image of the \(anatomy.options[anatomy.answer])."))
        #expect(rationale.contains("so the answer is \(entry.record.options[entry.record.answer])."))
        #expect(rationale.hasSuffix("\(VQARecord.letters[entry.record.options.count - 1]): \(entry.record.options.last!) vs "
                                    + "\(entry.record.options[entry.record.answer]) " + (entry.record.answer == entry.record.options.count - 1 ? "yes." : "no.")))
        let example = builder.example(entry)
        #expect(tokenizer.decode(example.target).hasSuffix("<answer> \(entry.record.answerLetter) </answer>"))
        #expect(!example.target.contains(Tokenizer.unk) && !example.prompt.contains(Tokenizer.unk))
    }

    @Test func reorderedOptionsKeepTheAnswerWithItsText() throws {
        let (dataset, _) = try Self.dataset(images: 8)
        let record = try #require(dataset.index.records.first { $0.record.options.count == 4 }?.record)
        for order in [[3, 2, 1, 0], [1, 0, 3, 2], [0, 1, 2, 3]] {
            let moved = record.reorderingOptions(order)
            #expect(moved.options == order.map { record.options[$0] })
            #expect(moved.options[moved.answer] == record.options[record.answer])
        }
        // Training with and without shuffling differs from the second epoch on, and both are deterministic.
        var plain = Self.config()
        plain.epochs = 2
        plain.shuffleOptions = false
        var shuffled = plain
        shuffled.shuffleOptions = true
        let a = try SFTTrainer(plain).train(on: dataset), b = try SFTTrainer(shuffled).train(on: dataset)
        let steps = a.curve.filter { $0.epoch == 0 }.count
        #expect(a.curve.prefix(steps).map(\.loss) == b.curve.prefix(steps).map(\.loss))
        #expect(a.curve.dropFirst(steps).map(\.loss) != b.curve.dropFirst(steps).map(\.loss))
        #expect(try SFTTrainer(shuffled).train(on: dataset).checkpoint.encoded() == (try b.checkpoint.encoded()))
    }

    @Test func adversarialTrainingAttacksEachBatchAgainstTheCurrentWeights() throws {
        let (dataset, _) = try Self.dataset()
        var clean = Self.config()
        clean.epochs = 1
        var zero = clean
        zero.adversary = AdversarialTraining(attack: AttackSettings(method: .pgdLinf, eps: 0, alpha: 0, steps: 2), fraction: 1)
        let plain = try SFTTrainer(clean).train(on: dataset)
        #expect(try SFTTrainer(zero).train(on: dataset).checkpoint.model.parameters.values == plain.checkpoint.model.parameters.values,
                "a zero-eps attack trains exactly as clean SFT")
        var adversarial = clean
        adversarial.adversary = AdversarialTraining(attack: AttackSettings(method: .pgdLinf, eps: 16.0 / 255, alpha: 4.0 / 255, steps: 3), fraction: 1)
        let one = try SFTTrainer(adversarial).train(on: dataset)
        adversarial.threads = 2
        let two = try SFTTrainer(adversarial).train(on: dataset)
        #expect(try one.checkpoint.encoded() == (try two.checkpoint.encoded()), "the checkpoint does not depend on the threads")
        #expect(one.curve[0].loss > plain.curve[0].loss, "the same first weights lose more on attacked images")
        #expect(one.checkpoint.info["pipe.adversarial_eps"] == "\(16.0 / 255)")
        // Half the batch attacked lies between the two.
        adversarial.adversary?.fraction = 0.5
        let half = try SFTTrainer(adversarial).train(on: dataset)
        #expect(half.curve[0].loss > plain.curve[0].loss && half.curve[0].loss < one.curve[0].loss)
        // Continuing from a checkpoint keeps its tokenizer and starts from its weights.
        var continued = adversarial
        continued.initial = plain.checkpoint
        continued.learningRate = 0
        continued.warmupSteps = 0
        let resumed = try SFTTrainer(continued).train(on: dataset)
        #expect(resumed.checkpoint.tokenizer == plain.checkpoint.tokenizer)
        #expect(resumed.checkpoint.model.parameters.values == plain.checkpoint.model.parameters.values, "lr 0 leaves the weights as they were")
    }

    @Test func aTrainFractionKeepsASeededShareOfTheImagesWithAllTheirQuestions() throws {
        let (dataset, _) = try Self.dataset()
        let train = dataset.records(.train)
        let images = Set(train.map(\.image))
        let half = SFTTrainer.imageShare(train, fraction: 0.5)
        let kept = Set(half.map(\.image))
        #expect(kept.count == Int((Double(images.count) * 0.5).rounded()))
        #expect(half == train.filter { kept.contains($0.image) }, "every question of a kept image, in order")
        #expect(kept != Set(train.prefix(half.count).map(\.image)), "drawn at random, not the first images")
        #expect(SFTTrainer.imageShare(train, fraction: 0.5) == half, "the same share draws the same images")
        let quarter = Set(SFTTrainer.imageShare(train, fraction: 0.25).map(\.image))
        #expect(quarter.isSubset(of: kept) && quarter.count < kept.count, "a smaller share is inside a larger")
        #expect(SFTTrainer.imageShare(train, fraction: 1) == train)
        #expect(!SFTTrainer.imageShare(train, fraction: 0.001).isEmpty, "at least one image")
        // Training on the share sees only its examples.
        var config = Self.config()
        config.epochs = 1
        config.trainFraction = 0.5
        var lines: [String] = []
        _ = try SFTTrainer(config).train(on: dataset, log: { lines.append($0) })
        #expect(lines.contains { $0.hasSuffix("\(half.count) training examples") }, "\(lines)")
    }

    @Test func badSettingsStopWithAClearError() throws {
        let (dataset, _) = try Self.dataset(images: 12)
        var short = Self.config()
        short.model.maxLen = 20
        #expect { try SFTTrainer(short).train(on: dataset) } throws: { "\($0)".contains("max_len is 20: raise model.max_len") }
        var diverging = Self.config()
        diverging.learningRate = 1e30
        diverging.gradClip = 0
        diverging.warmupSteps = 0
        #expect { try SFTTrainer(diverging).train(on: dataset) } throws: { "\($0)".contains("the loss became") }
        var heads = Self.config()
        heads.model.heads = 3
        #expect { try SFTTrainer(heads).train(on: dataset) } throws: { "\($0)".contains("dim (16) is not divisible by heads (3)") }
        let (allTest, _) = try Self.dataset(images: 6, test: 1)
        #expect { try SFTTrainer(Self.config()).train(on: allTest) } throws: { "\($0)".contains("no training records") }
    }
}
