import Foundation
import PipeRandom
import PipeTensor
import PipeTestSupport
import Testing
@testable import PipeModel

/// Sequences that share an image (a GRPO group's completions) computed with the image once must
/// give the logits and gradients of the pass that repeats the image for every sequence.
struct SharedImageTests {
    let model: VisionLanguageModel
    let distinct: [Float]                                        // two images
    let imageOf = [1, 0, 1]                                      // three sequences
    let tokens: [Int32] = [1, 5, 3, 9, 2, 4, 7, 7, 0, 10, 1, 8, 8, 2, 6]   // B = 3, T = 5
    let segments: [Int32] = [0, 1, 1, 2, 0, 3, 4, 4, 0, 0, 0, 2, 2, 1, 0]
    let targets: [Int32] = [5, 3, 9, 2, 0, 7, 7, 0, 10, 0, 8, 8, 2, 6, 3]
    let mask: [Float] = [0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1]
    let b = 3, t = 5
    var v: Int { model.config.vocabSize }
    var pixels: Int { model.config.imageSize * model.config.imageSize * 3 }

    init() throws {
        var model = try VisionLanguageModel(config: ModelGradientTests.config, seed: 3)
        var data = TestData(seed: 17)
        model.parameters.values = data.normal(model.parameters.count, std: 0.4)
        self.model = model
        distinct = (0..<(2 * 8 * 8 * 3)).map { _ in Float(data.random.uniform()) }
    }

    /// Each sequence's image written out: the unshared pass's input.
    var repeated: [Float] { imageOf.flatMap { distinct[($0 * pixels)..<(($0 + 1) * pixels)] } }

    /// (logits, parameter gradient, pixel gradient) of the masked cross-entropy.
    func pass(shared: Bool) -> ([Float], [Float], [Float]) {
        let workspace = ModelWorkspace(model)
        let images = shared ? distinct : repeated
        let logits = Array(UnsafeBufferPointer(start: workspace.forward(parameters: model.parameters.values, images: images, tokens: tokens,
                                                                        segments: segments, b: b, t: t, imageOf: shared ? imageOf : nil),
                                               count: b * t * v))
        var probs = [Float](repeating: 0, count: b * t * v), dlogits = probs
        _ = CrossEntropy.forward(probs: &probs, logits: logits, targets: targets, mask: mask, n: b * t, v: v)
        CrossEntropy.backward(dlogits: &dlogits, probs: probs, targets: targets, mask: mask, n: b * t, v: v)
        var g = [Float](repeating: 0, count: model.parameters.count), dimage = [Float](repeating: 0, count: images.count)
        workspace.backward(parameters: model.parameters.values, gradients: &g, dlogits: dlogits, imageGradient: &dimage)
        return (logits, g, dimage)
    }

    static func close(_ a: [Float], _ b: [Float], tolerance: Float) -> Bool {
        let scale = max(a.map(abs).max() ?? 0, 1e-12)
        return a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * scale }
    }

    @Test func theLogitsAndGradientsAreTheUnsharedPasses() throws {
        let (logits, g, dpixels) = pass(shared: false)
        let (sharedLogits, sharedG, sharedPixels) = pass(shared: true)
        #expect(Self.close(logits, sharedLogits, tolerance: 1e-5))
        for tensor in model.parameters.tensors {
            let range = tensor.offset..<(tensor.offset + tensor.count)
            #expect(Self.close(Array(g[range]), Array(sharedG[range]), tolerance: 1e-4), "\(tensor.name)")
        }
        #expect(g.contains { $0 != 0 } && sharedG != g, "rounding differs: the shared pass really ran")
        // A shared image's pixel gradient is the sum over the sequences that read it.
        var summed = [Float](repeating: 0, count: distinct.count)
        for (seq, image) in imageOf.enumerated() {
            for k in 0..<pixels { summed[image * pixels + k] += dpixels[seq * pixels + k] }
        }
        #expect(Self.close(summed, sharedPixels, tolerance: 1e-4))
    }

    @Test func eachSequenceSeesOnlyItsOwnImage() throws {
        let workspace = ModelWorkspace(model)
        func logits(_ images: [Float]) -> [Float] {
            Array(UnsafeBufferPointer(start: workspace.forward(parameters: model.parameters.values, images: images, tokens: tokens,
                                                               segments: segments, b: b, t: t, imageOf: imageOf), count: b * t * v))
        }
        let before = logits(distinct)
        var images = distinct
        images[pixels - 1] += 0.5   // the last pixel of image 0, read by sequence 1 alone
        let after = logits(images)
        #expect(before[..<(t * v)] == after[..<(t * v)] && before[(2 * t * v)...] == after[(2 * t * v)...])
        #expect(before[(t * v)..<(2 * t * v)] != after[(t * v)..<(2 * t * v)])
    }
}
