import Foundation
import PipeData
import PipeModel
import PipeRandom

/// The smoothed version of a policy: its base classifier f is greedy decoding read as an option
/// letter (an answer with none is the class `(unparsable)`), applied to the image plus Gaussian noise
/// N(0, sigma^2) on the [0, 1] pixels before normalization (not clipped, as in Cohen et al.). Noisy
/// samples are decoded in batches on worker threads; sample k of example i draws its noise from a
/// seed of (seed, phase, i, k), so the counts do not depend on the thread count or batch size.
public struct SmoothedClassifier: Sendable {
    public var model: VisionLanguageModel
    public var tokenizer: Tokenizer
    public var sigma: Double
    public var maxNewTokens: Int
    public var batchSize: Int
    public var threads: Int
    public var seed: UInt64

    public init(model: VisionLanguageModel, tokenizer: Tokenizer, sigma: Double, maxNewTokens: Int, batchSize: Int = 32,
                threads: Int = 1, seed: UInt64 = 0) {
        self.model = model
        self.tokenizer = tokenizer
        self.sigma = sigma
        self.maxNewTokens = maxNewTokens
        self.batchSize = max(1, batchSize)
        self.threads = max(1, threads)
        self.seed = seed
    }

    /// The seeds' phases: CERTIFY's selection and estimation samples and PREDICT's are independent draws.
    public enum Phase: UInt64, Sendable { case selection = 1, estimation = 2, prediction = 3 }

    /// `image` plus this classifier's noise for sample `k` of example `index`.
    public func noisy(_ image: ArraySlice<Float>, index: Int, sample k: Int, phase: Phase) -> [Float] {
        GaussianNoise.added(to: image, sigma: sigma, seed: GaussianNoise.seed(seed ^ (phase.rawValue &* 0xd6e8_feb8_6659_fd93), index, k))
    }

    /// For each example, the classes of f on `samples` noisy copies of its image, counted.
    public func counts(_ examples: [Example], dataset: VQADataset, samples: Int, phase: Phase) -> [[String: Int]] {
        let jobs = examples.indices.flatMap { i in (0..<samples).map { (i, $0) } }
        let chunks = stride(from: 0, to: jobs.count, by: batchSize).map { Array(jobs[$0..<min(jobs.count, $0 + batchSize)]) }
        let results = ResultSlots<[String]>(count: chunks.count)
        let threads = self.threads
        DispatchQueue.concurrentPerform(iterations: min(threads, max(1, chunks.count))) { worker in
            let generator = Generator(model)
            for index in stride(from: worker, to: chunks.count, by: threads) {
                let chunk = chunks[index]
                var images: [Float] = []
                images.reserveCapacity(chunk.count * dataset.imagePixels)
                for (i, k) in chunk { images += noisy(examples[i].image(in: dataset), index: i, sample: k, phase: phase) }
                let outputs = generator.generate(parameters: model.parameters.values, images: images, prompts: chunk.map { examples[$0.0].prompt },
                                                 segments: chunk.map { examples[$0.0].promptSegments },
                                                 sampling: .greedy(maxNewTokens: maxNewTokens), seeds: chunk.map { _ in 0 })
                results[index] = outputs.map { Prompting.answerLetter(in: tokenizer.decode($0)) ?? RandomizedSmoothing.unparsable }
            }
        }
        var counts = [[String: Int]](repeating: [:], count: examples.count)
        for (job, label) in zip(jobs, results.values.flatMap { $0 ?? [] }) { counts[job.0][label, default: 0] += 1 }
        return counts
    }

    /// CERTIFY(x, n0, n, alpha) for each example.
    public func certify(_ examples: [Example], dataset: VQADataset, n0: Int, n: Int, alpha: Double) -> [Certificate] {
        let selection = counts(examples, dataset: dataset, samples: n0, phase: .selection)
        let estimation = counts(examples, dataset: dataset, samples: n, phase: .estimation)
        return examples.indices.map { i in
            let record = examples[i].record
            let decision = RandomizedSmoothing.certify(selection: selection[i], estimation: estimation[i], alpha: alpha, sigma: sigma)
            let candidate = RandomizedSmoothing.ranked(selection[i]).first?.label
            return Certificate(questionID: record.questionID, modality: record.modality, questionType: record.questionType,
                               answer: record.answerLetter, predicted: decision.label, radius: decision.radius,
                               lowerBound: decision.lowerBound, count: candidate.map { estimation[i][$0] ?? 0 } ?? 0,
                               correct: decision.label == record.answerLetter)
        }
    }

    /// PREDICT(x, n, alpha) for each example: the smoothed prediction, nil when it abstains.
    public func predict(_ examples: [Example], dataset: VQADataset, n: Int, alpha: Double) -> [String?] {
        counts(examples, dataset: dataset, samples: n, phase: .prediction).map { RandomizedSmoothing.predict($0, alpha: alpha) }
    }
}
