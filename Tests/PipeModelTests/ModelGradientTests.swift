import Foundation
import PipeRandom
import PipeTensor
import PipeTestSupport
import Testing
@testable import PipeModel

/// The whole model's gradient, with respect to every parameter and to the input pixels, against
/// finite differences on a tiny config.
struct ModelGradientTests {
    static let config = ModelConfig(imageSize: 8, patch: 4, dim: 8, heads: 2, layers: 2, visionLayers: 1, mlpRatio: 2,
                                    maxLen: 6, vocabSize: 11)

    /// A model with large random weights (so gradients are well above rounding), a batch, and a loss.
    struct Fixture {
        var model: VisionLanguageModel
        var images: [Float]
        let tokens: [Int32] = [1, 5, 3, 9, 2, 4, 7, 7, 0, 10]    // B = 2, T = 5
        let segments: [Int32] = [0, 1, 1, 2, 0, 3, 4, 4, 0, 0]
        let targets: [Int32] = [5, 3, 9, 2, 0, 7, 7, 0, 10, 0]
        let mask: [Float] = [0, 1, 1, 1, 0, 1, 0, 1, 1, 0]
        let b = 2, t = 5

        init() throws {
            model = try VisionLanguageModel(config: ModelGradientTests.config, seed: 3)
            var data = TestData(seed: 11)
            model.parameters.values = data.normal(model.parameters.count, std: 0.4)
            images = (0..<(2 * 8 * 8 * 3)).map { _ in Float(data.random.uniform()) }
        }

        func loss(parameters: [Float], images: [Float], workspace: ModelWorkspace) -> Double {
            let logits = workspace.forward(parameters: parameters, images: images, tokens: tokens, segments: segments, b: b, t: t)
            var probs = [Float](repeating: 0, count: b * t * ModelGradientTests.config.vocabSize)
            return Double(CrossEntropy.forward(probs: &probs, logits: logits, targets: targets, mask: mask, n: b * t,
                                               v: ModelGradientTests.config.vocabSize))
        }

        /// (parameter gradient, image gradient) by backpropagation.
        func gradients(workspace: ModelWorkspace, parameterGradients: Bool = true) -> ([Float], [Float]) {
            let v = ModelGradientTests.config.vocabSize
            let logits = workspace.forward(parameters: model.parameters.values, images: images, tokens: tokens, segments: segments, b: b, t: t)
            var probs = [Float](repeating: 0, count: b * t * v), dlogits = probs
            _ = CrossEntropy.forward(probs: &probs, logits: logits, targets: targets, mask: mask, n: b * t, v: v)
            CrossEntropy.backward(dlogits: &dlogits, probs: probs, targets: targets, mask: mask, n: b * t, v: v)
            var g = [Float](repeating: 0, count: model.parameters.count), dimage = [Float](repeating: 0, count: images.count)
            workspace.backward(parameters: model.parameters.values, gradients: &g, dlogits: dlogits, imageGradient: &dimage,
                               parameterGradients: parameterGradients)
            return (g, dimage)
        }
    }

    @Test func everyParameterAndThePixels() throws {
        let fixture = try Fixture()
        let workspace = ModelWorkspace(fixture.model)
        let (g, dimage) = fixture.gradients(workspace: workspace)
        let check = GradientCheck(epsilon: 2e-3, relative: 3e-2, absolute: 2e-3)
        for tensor in fixture.model.parameters.tensors {
            let range = tensor.offset..<(tensor.offset + tensor.count)
            check.check(tensor.name, at: Array(fixture.model.parameters.values[range]), analytic: Array(g[range])) { slice in
                var values = fixture.model.parameters.values
                values.replaceSubrange(range, with: slice)
                return fixture.loss(parameters: values, images: fixture.images, workspace: workspace)
            }
        }
        check.check("image pixels", at: fixture.images, analytic: dimage) {
            fixture.loss(parameters: fixture.model.parameters.values, images: $0, workspace: workspace)
        }
        #expect(dimage.contains { $0 != 0 })
    }

    @Test func thePixelsGradientAloneSkipsTheWeights() throws {
        let fixture = try Fixture()
        let workspace = ModelWorkspace(fixture.model)
        let (full, dimage) = fixture.gradients(workspace: workspace)
        let (partial, alone) = fixture.gradients(workspace: workspace, parameterGradients: false)
        #expect(alone == dimage, "the same pixel gradient, bit for bit")
        for tensor in fixture.model.parameters.tensors where tensor.name.hasSuffix("weight") && !tensor.name.contains("ln") && !tensor.name.contains("norm") {
            let range = tensor.offset..<(tensor.offset + tensor.count)
            #expect(partial[range].allSatisfy { $0 == 0 } && full[range].contains { $0 != 0 }, "\(tensor.name) is skipped")
        }
    }

    @Test func textDoesNotSeeTheFutureButSeesTheWholeImage() throws {
        let fixture = try Fixture()
        let workspace = ModelWorkspace(fixture.model)
        let v = Self.config.vocabSize
        let before = Array(UnsafeBufferPointer(start: workspace.forward(parameters: fixture.model.parameters.values, images: fixture.images,
                                                                        tokens: fixture.tokens, b: 2, t: 5), count: 2 * 5 * v))
        var tokens = fixture.tokens
        tokens[4] = 6   // the last token of the first sequence
        let after = Array(UnsafeBufferPointer(start: workspace.forward(parameters: fixture.model.parameters.values, images: fixture.images,
                                                                       tokens: tokens, b: 2, t: 5), count: 2 * 5 * v))
        #expect(before[..<(4 * v)] == after[..<(4 * v)], "earlier positions are unchanged")
        #expect(before[(4 * v)..<(5 * v)] != after[(4 * v)..<(5 * v)])
        #expect(before[(5 * v)...] == after[(5 * v)...], "the other sequence is unchanged")
        var images = fixture.images
        images[8 * 8 * 3 - 1] += 0.5   // the last pixel of the first image
        let moved = Array(UnsafeBufferPointer(start: workspace.forward(parameters: fixture.model.parameters.values, images: images,
                                                                       tokens: fixture.tokens, b: 2, t: 5), count: 2 * 5 * v))
        #expect(moved[..<v] != before[..<v], "the first text position sees the whole image")
    }

    /// Weights start at N(0, 1/fan_in) (residual projections smaller still), norms at 1, biases at 0.
    @Test func initializationScalesWithTheWidth() throws {
        let config = ModelConfig(imageSize: 16, patch: 8, dim: 64, heads: 2, layers: 2, visionLayers: 1, mlpRatio: 4, maxLen: 32, vocabSize: 50)
        let model = try VisionLanguageModel(config: config, seed: 1)
        func std(_ name: String) throws -> Double {
            let tensor = try #require(model.parameters.tensors.first { $0.name == name })
            let values = model.parameters.values[tensor.offset..<(tensor.offset + tensor.count)].map(Double.init)
            return (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
        }
        #expect(abs(try std("decoder.blocks.0.attn.qkv.weight") - 1 / 8) < 0.01)        // fan_in 64
        #expect(abs(try std("decoder.blocks.0.mlp.fc.weight") - 1 / 8) < 0.01)
        #expect(abs(try std("vision.patch.weight") - 1 / Double(8 * 8 * 3).squareRoot()) < 0.01)
        #expect(abs(try std("text.embedding") - 1 / 8) < 0.015)
        #expect(abs(try std("decoder.blocks.1.mlp.proj.weight") - 1 / 16 / 6.0.squareRoot()) < 0.005)   // fan_in 256, 3 blocks
        #expect(try std("decoder.norm.weight") == 1 && (try std("decoder.blocks.0.attn.qkv.bias")) == 0)
    }

    @Test func nonsensicalConfigsAreRefused() {
        #expect(throws: ModelError("model config: dim (10) is not divisible by heads (4)")) {
            try VisionLanguageModel(config: ModelConfig(dim: 10, heads: 4), seed: 1)
        }
        #expect(throws: ModelError("model config: the image size (64) is not divisible by patch (6)")) {
            try VisionLanguageModel(config: ModelConfig(imageSize: 64, patch: 6), seed: 1)
        }
    }
}
