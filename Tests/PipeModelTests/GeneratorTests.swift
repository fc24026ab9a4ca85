import Foundation
import PipeRandom
import PipeTestSupport
import Testing
@testable import PipeModel

/// Generation with the key/value cache against recomputing the whole prefix, sampling, and batching.
struct GeneratorTests {
    static let config = ModelConfig(imageSize: 8, patch: 4, dim: 16, heads: 2, layers: 2, visionLayers: 1, mlpRatio: 2,
                                    maxLen: 24, vocabSize: 13)

    static func setup() throws -> (VisionLanguageModel, [Float], [[Int32]]) {
        var model = try VisionLanguageModel(config: config, seed: 2)
        var data = TestData(seed: 3)
        // Larger weights than the initialization, so that greedy decoding does not repeat one token.
        model.parameters.values = data.normal(model.parameters.count, std: 0.3)
        // Norms near identity, so that the output follows the input rather than a shared bias.
        for tensor in model.parameters.tensors where tensor.name.contains("norm") || tensor.name.contains(".ln") {
            for i in tensor.offset..<(tensor.offset + tensor.count) {
                model.parameters.values[i] = tensor.name.hasSuffix("weight") ? 1 + 0.1 * model.parameters.values[i] : 0
            }
        }
        // Keep <eos> unlikely, so that sequences run long enough to exercise the cache.
        let embedding = model.parameters.offset("text.embedding")
        for i in 0..<config.dim { model.parameters.values[embedding + Int(Tokenizer.eos) * config.dim + i] *= 0.1 }
        let images = (0..<(3 * 8 * 8 * 3)).map { _ in Float(data.random.uniform()) }
        return (model, images, [[1, 5, 6], [1, 7, 8, 9, 10, 4], [1, 11]])
    }

    @Test func cachedGreedyDecodingEqualsRecomputation() throws {
        let (model, images, prompts) = try Self.setup()
        let generator = Generator(model)
        let sampling = Sampling.greedy(maxNewTokens: 12)
        let cached = generator.generate(parameters: model.parameters.values, images: images, prompts: prompts, sampling: sampling, seeds: [1, 2, 3])
        let recomputed = generator.generateWithoutCache(parameters: model.parameters.values, images: images, prompts: prompts,
                                                        sampling: sampling, seeds: [1, 2, 3])
        #expect(cached == recomputed)
        #expect(cached.allSatisfy { !$0.isEmpty && $0.count <= 12 })
        #expect(Set(cached.flatMap { $0 }).count > 2, "the test model does not just repeat one token")
    }

    @Test func samplingIsSeededPerSequenceAndIndependentOfTheBatch() throws {
        let (model, images, prompts) = try Self.setup()
        let generator = Generator(model)
        let sampling = Sampling(temperature: 1, topK: 8, topP: 0.9, maxNewTokens: 10)
        let all = generator.generate(parameters: model.parameters.values, images: images, prompts: prompts, sampling: sampling, seeds: [7, 8, 9])
        let again = generator.generate(parameters: model.parameters.values, images: images, prompts: prompts, sampling: sampling, seeds: [7, 8, 9])
        #expect(all == again)
        let pixels = 8 * 8 * 3
        let second = generator.generate(parameters: model.parameters.values, images: Array(images[pixels..<(2 * pixels)]), prompts: [prompts[1]],
                                        sampling: sampling, seeds: [8])
        #expect(second[0] == all[1], "a sequence's tokens do not depend on the rest of the batch")
        let reference = generator.generateWithoutCache(parameters: model.parameters.values, images: images, prompts: prompts,
                                                       sampling: sampling, seeds: [7, 8, 9])
        #expect(reference == all)
        let other = generator.generate(parameters: model.parameters.values, images: images, prompts: prompts, sampling: sampling, seeds: [17, 18, 19])
        #expect(other != all)
    }

    /// A group of completions of one prompt reuses the first one's prefill: each completion is the
    /// one sampled alone with its seed.
    @Test func aGroupOfOnePromptSamplesAsEachAlone() throws {
        let (model, images, prompts) = try Self.setup()
        let generator = Generator(model)
        let sampling = Sampling(temperature: 1.5, maxNewTokens: 10)
        let pixels = 8 * 8 * 3, image = Array(images[pixels..<(2 * pixels)])
        let seeds: [UInt64] = [21, 22, 23, 24]
        let group = generator.generate(parameters: model.parameters.values, images: Array([[Float]](repeating: image, count: 4).joined()),
                                       prompts: Array(repeating: prompts[1], count: 4), sampling: sampling, seeds: seeds)
        let alone = seeds.map {
            generator.generate(parameters: model.parameters.values, images: image, prompts: [prompts[1]], sampling: sampling, seeds: [$0])[0]
        }
        #expect(group == alone)
        #expect(Set(group).count > 1, "the seeds sample different completions")
    }

    @Test func generationStopsAtTheLengthLimits() throws {
        let (model, images, prompts) = try Self.setup()
        let generator = Generator(model)
        let long = generator.generate(parameters: model.parameters.values, images: images, prompts: prompts,
                                      sampling: .greedy(maxNewTokens: 100), seeds: [1, 2, 3])
        for (prompt, output) in zip(prompts, long) {
            #expect(prompt.count + output.count <= Self.config.maxLen)
            #expect(output.last == Tokenizer.eos || prompt.count + output.count == Self.config.maxLen)
        }
    }

    @Test func topKTemperatureAndNucleus() {
        var random = SeededRandom(seed: 1)
        var logits: [Float] = [0.1, 2, 1.9, -1]
        #expect(Generator.sample(&logits, Sampling(temperature: 1, topK: 1), &random) == 1)
        var counts = [0, 0, 0, 0]
        for _ in 0..<2000 {
            var l: [Float] = [0, log(3), -30, -30]
            counts[Int(Generator.sample(&l, Sampling(temperature: 1), &random))] += 1
        }
        #expect(abs(Double(counts[1]) / 2000 - 0.75) < 0.04, "\(counts)")
        // Nucleus 0.7: token 1 alone holds 0.75, so it is the only candidate.
        let nucleus: [Float] = [0, log(3), -30, -30]
        #expect((0..<50).allSatisfy { _ in var l = nucleus; return Generator.sample(&l, Sampling(temperature: 1, topP: 0.7), &random) == 1 })
    }
}
