import Foundation
import PipeData
import PipeModel
import PipeTensor

/// Padded token rows of a micro-batch, ready for the model.
struct TokenBatch {
    var b: Int, t: Int
    var inputs: [Int32]    // (B, T)
    var segments: [Int32]  // (B, T)
    var targets: [Int32]   // (B, T)
    var mask: [Float]      // (B, T): 1 where the target is a response token
    var images: [Float]    // (B, H, W, 3), or (distinct images, H, W, 3) with `imageOf`
    /// With `sharingImages`, the index in `images` of each row's image.
    var imageOf: [Int]?

    /// Teacher-forcing rows for `examples`: input = <bos> prompt response, target shifted by one.
    /// With `sharingImages`, consecutive examples whose pixels are equal (a GRPO group's completions)
    /// store their image once, and the model computes its image tokens once for all of them.
    init(_ examples: [Example], dataset: VQADataset, sharingImages: Bool = false) {
        b = examples.count
        t = examples.map { $0.prompt.count + $0.target.count - 1 }.max() ?? 1
        inputs = [Int32](repeating: Tokenizer.pad, count: b * t)
        targets = inputs
        segments = [Int32](repeating: 0, count: b * t)
        mask = [Float](repeating: 0, count: b * t)
        images = []
        images.reserveCapacity(b * dataset.imagePixels)
        var imageOf: [Int] = [], last: ArraySlice<Float>?
        for (row, example) in examples.enumerated() {
            let sequence = example.prompt + example.target
            for j in 0..<(sequence.count - 1) {
                inputs[row * t + j] = sequence[j]
                if j < example.promptSegments.count { segments[row * t + j] = example.promptSegments[j] }
                targets[row * t + j] = sequence[j + 1]
                if j + 1 >= example.prompt.count { mask[row * t + j] = 1 }
            }
            let image = example.image(in: dataset)
            if !sharingImages || image != last {
                images.append(contentsOf: image)
                last = image
            }
            imageOf.append(images.count / dataset.imagePixels - 1)
        }
        self.imageOf = sharingImages ? imageOf : nil
    }

    var responseTokens: Int { Int(mask.reduce(0, +)) }
}

/// Gradients of a batch computed as fixed micro-batches on worker threads, each with its own
/// workspace and gradient slot, then summed in micro-batch order: the result does not depend on the
/// number of threads.
final class ParallelGradients: @unchecked Sendable {
    let threads: Int
    private let workspaces: [ModelWorkspace]
    /// One gradient buffer per micro-batch of a step, each written by one worker.
    private var slots: [UnsafeMutablePointer<Float>] = []
    private let parameterCount: Int

    init(model: VisionLanguageModel, threads: Int) {
        self.threads = max(1, threads)
        workspaces = (0..<self.threads).map { _ in ModelWorkspace(model) }
        parameterCount = model.parameters.count
    }

    deinit { for slot in slots { slot.deallocate() } }

    /// The mean cross-entropy over the response tokens of all micro-batches, and its gradient in `gradients`.
    func crossEntropy(parameters: [Float], batches: [TokenBatch], gradients: inout [Float]) -> Double {
        let totalTokens = max(1, batches.reduce(0) { $0 + $1.responseTokens })
        let v = workspaces[0].config.vocabSize
        let losses = backpropagate(parameters: parameters, batches: batches, gradients: &gradients) { _, batch, logits in
            let n = batch.b * batch.t
            var probs = [Float](repeating: 0, count: n * v)
            let loss = CrossEntropy.forward(probs: &probs, logits: logits, targets: batch.targets, mask: batch.mask, n: n, v: v)
            var dlogits = [Float](repeating: 0, count: n * v)
            CrossEntropy.backward(dlogits: &dlogits, probs: probs, targets: batch.targets, mask: batch.mask, n: n, v: v)
            // Each micro-batch's mean, weighted by its share of the batch's response tokens.
            let share = Float(batch.responseTokens) / Float(totalTokens)
            Elementwise.scale(&dlogits, by: share, count: n * v)
            return (dlogits, Double(loss) * Double(share))
        }
        return losses.reduce(0, +)
    }

    /// log p of every target token (B * T per micro-batch; masked positions included) at
    /// `temperature`, forward only.
    func tokenLogProbs(parameters: [Float], batches: [TokenBatch], temperature: Float = 1) -> [[Float]] {
        let results = ResultSlots<[Float]>(count: batches.count)
        let workspaces = self.workspaces, threads = self.threads
        let v = workspaces[0].config.vocabSize
        parameters.withUnsafeBufferPointer { p in
            let parameters = p.baseAddress!
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for index in stride(from: worker, to: batches.count, by: threads) {
                    let batch = batches[index]
                    let n = batch.b * batch.t
                    let logits = workspaces[worker].forward(parameters: parameters, images: batch.images, tokens: batch.inputs,
                                                            segments: batch.segments, b: batch.b, t: batch.t, imageOf: batch.imageOf)
                    var logp = [Float](repeating: 0, count: n)
                    CrossEntropy.tokenLogProbs(&logp, logits: logits, targets: batch.targets, n: n, v: v, temperature: temperature)
                    results[index] = logp
                }
            }
        }
        return results.values.map { $0 ?? [] }
    }

    /// The gradient of sum over tokens of dlogp * log p into `gradients`, where each micro-batch's
    /// dlogp (B * T, zero where masked) is `objective` of its log p (B * T) from the same forward
    /// pass; returns those log-probs. A policy-gradient step thus costs one forward pass, not two.
    /// `objective` runs on the worker threads, once per micro-batch. Log-probs are those of the
    /// logits divided by `temperature` (the distribution the completions were sampled from). With
    /// `entropies`, `objective` also gets each position's entropy (B * T) of that distribution.
    func gradients(parameters: [Float], batches: [TokenBatch], gradients: inout [Float], temperature: Float = 1,
                   entropies: Bool = false, objective: @escaping @Sendable (Int, [Float], [Float]?) -> [Float]) -> [[Float]] {
        let v = workspaces[0].config.vocabSize
        let logProbs = ResultSlots<[Float]>(count: batches.count)
        _ = backpropagate(parameters: parameters, batches: batches, gradients: &gradients) { index, batch, logits in
            let n = batch.b * batch.t
            var logp = [Float](repeating: 0, count: n)
            CrossEntropy.tokenLogProbs(&logp, logits: logits, targets: batch.targets, n: n, v: v, temperature: temperature)
            var entropy: [Float]?
            if entropies {
                var values = [Float](repeating: 0, count: n)
                CrossEntropy.tokenEntropies(&values, logits: logits, n: n, v: v, temperature: temperature)
                entropy = values
            }
            let dlogp = objective(index, logp, entropy)
            logProbs[index] = logp
            var dlogits = [Float](repeating: 0, count: n * v)
            CrossEntropy.tokenLogProbsBackward(dlogits: &dlogits, dlogp: dlogp, logits: logits, targets: batch.targets, n: n, v: v,
                                               temperature: temperature)
            return (dlogits, 0)
        }
        return logProbs.values.map { $0 ?? [] }
    }

    /// Runs forward, `loss` (micro-batch index, batch, logits -> dlogits and a loss) and backward for
    /// every micro-batch on the workers, each into its own slot; sums the slots in order into
    /// `gradients`; returns the losses in order.
    private func backpropagate(parameters: [Float], batches: [TokenBatch], gradients: inout [Float],
                               loss: @escaping (Int, TokenBatch, UnsafePointer<Float>) -> ([Float], Double)) -> [Double] {
        while slots.count < batches.count { slots.append(.allocate(capacity: parameterCount)) }
        let losses = ResultSlots<Double>(count: batches.count)
        let slots = self.slots, workspaces = self.workspaces, threads = self.threads, count = parameterCount
        parameters.withUnsafeBufferPointer { p in
            let parameters = p.baseAddress!
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for index in stride(from: worker, to: batches.count, by: threads) {
                    let batch = batches[index]
                    slots[index].update(repeating: 0, count: count)
                    let logits = workspaces[worker].forward(parameters: parameters, images: batch.images, tokens: batch.inputs,
                                                            segments: batch.segments, b: batch.b, t: batch.t, imageOf: batch.imageOf)
                    let (dlogits, value) = loss(index, batch, logits)
                    workspaces[worker].backward(parameters: parameters, gradients: slots[index], dlogits: dlogits)
                    losses[index] = value
                }
            }
        }
        gradients.withUnsafeMutableBufferPointer { g in
            g.baseAddress!.update(repeating: 0, count: count)
            for index in batches.indices { Elementwise.accumulate(g.baseAddress!, slots[index], count: count) }
        }
        return losses.values.map { $0 ?? 0 }
    }
}
