import Foundation
import PipeData
import PipeModel
import PipeRandom
import PipeTensor

/// Supervised fine-tuning settings (the `sft` stage's options).
public struct SFTConfig: Sendable {
    public var mode = ReasoningMode.cot
    /// The model's shape; `imageSize` and `vocabSize` are taken from the dataset and tokenizer.
    public var model = ModelConfig()
    public var epochs = 2
    /// Examples per optimizer step.
    public var batchSize = 32
    /// Examples per forward/backward pass; a step accumulates batchSize / microBatch of them.
    public var microBatch = 8
    public var learningRate: Float = 1e-3
    public var warmupSteps = 20
    public var minLearningRateRatio: Float = 0.1
    public var weightDecay: Float = 0.01
    public var gradClip: Float = 1
    /// Reorder each training question's options at random every epoch (the answer letter moves with
    /// its text), so that the letter must be read from the prompt rather than remembered.
    public var shuffleOptions = true
    /// Worker threads; the checkpoint does not depend on it.
    public var threads = 1
    public var seed: UInt64 = 0
    /// Validation records scored after training (0: all).
    public var evalLimit = 0
    public var evalMaxNewTokens = 96
    /// Score the validation split after training.
    public var validate = true
    /// Continue from this policy (its weights, tokenizer and shape) instead of a fresh model.
    public var initial: Checkpoint? = nil
    /// Train on images plus Gaussian noise N(0, sigma^2) on the [0, 1] pixels (Cohen et al. train
    /// with the noise they certify with); 0: clean images.
    public var noiseSigma: Double = 0
    /// Adversarial training (Madry et al.): for a share of each batch the image is replaced by a PGD
    /// example crafted against the current weights, then trained on with the same loss; nil: clean.
    public var adversary: AdversarialTraining? = nil
    /// Train on this share of the training split's images (all their questions), drawn by a fixed
    /// seed so that every stage with the same share trains on the same images (an R1-style cold
    /// start: rationales for some images; RL then sees them all); 1: every image.
    public var trainFraction: Double = 1

    public init() {}
}

/// One row of the training curve.
public struct CurvePoint: Sendable {
    public var step: Int, epoch: Int
    public var loss: Double, learningRate: Float, gradNorm: Float
    /// Text tokens (padded) in the step.
    public var tokens: Int
    public var seconds: Double
    public var examples: Int

    /// `curves.csv`: the values a rerun reproduces exactly.
    public static let csvHeader = "step,epoch,loss,lr,grad_norm,tokens"
    public var csv: String { String(format: "%d,%d,%.6f,%.6g,%.6f,%d", step, epoch, loss, learningRate, gradNorm, tokens) }

    /// `timing.csv`: wall-clock speed, which varies from run to run.
    public static let timingHeader = "step,seconds,tokens_per_s,examples_per_s"
    public var timingCSV: String {
        String(format: "%d,%.4f,%.1f,%.2f", step, seconds, Double(tokens) / max(seconds, 1e-9), Double(examples) / max(seconds, 1e-9))
    }
}

/// What `SFTTrainer.train` produced.
public struct SFTResult: Sendable {
    public var checkpoint: Checkpoint
    public var curve: [CurvePoint]
    public var validation: EvaluationResult
    /// Each validation answer, in split order.
    public var predictions: [Prediction]
    public var trainSeconds: Double
    public var evalSeconds: Double
}

/// Teacher-forced cross-entropy on the response tokens of Med-R1-formatted targets.
public struct SFTTrainer: Sendable {
    public var config: SFTConfig

    public init(_ config: SFTConfig) { self.config = config }

    /// The entries of `round(fraction x images)` of their images (at least one), kept in their order;
    /// every entry when `fraction` is 1 or more. The images are the first of one fixed shuffle, so
    /// the same entries give the same share in every stage, and a smaller share is inside a larger.
    public static func imageShare(_ entries: [DatasetIndex.Entry], fraction: Double) -> [DatasetIndex.Entry] {
        guard fraction < 1, !entries.isEmpty else { return entries }
        var images = Array(Set(entries.map(\.image))).sorted()
        var random = SeededRandom(seed: 0xc01d_5747 ^ UInt64(images.count))
        images.shuffle(using: &random)
        let kept = Set(images.prefix(max(1, Int((Double(images.count) * fraction).rounded()))))
        return entries.filter { kept.contains($0.image) }
    }

    /// `image` plus Gaussian noise for the example at `position` of step `step`.
    static func noisy(_ image: ArraySlice<Float>, sigma: Double, seed: UInt64, step: Int, position: Int) -> [Float] {
        GaussianNoise.added(to: image, sigma: sigma, seed: GaussianNoise.seed(SeedStream.sftNoise.seed(seed), step, position))
    }

    public func train(on dataset: VQADataset, log: (String) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> SFTResult {
        let cfg = config
        var run = try SFTRun(self, on: dataset)
        log("model: \(run.model.parameters.count) parameters, vocabulary \(run.tokenizer.count), \(run.examples.count) training examples")
        let start = Date()
        for epoch in 0..<cfg.epochs {
            let order = run.startEpoch(epoch)
            for first in stride(from: 0, to: order.count, by: cfg.batchSize) {
                if shouldStop() { throw TrainingError("stopped") }
                let point = try run.step(order[first..<min(order.count, first + cfg.batchSize)], epoch: epoch)
                if point.step % 20 == 0 || point.step == run.totalSteps - 1 {
                    log(String(format: "step %d/%d epoch %d loss %.4f lr %.2e grad norm %.3f, %.0f examples/s", point.step + 1,
                               run.totalSteps, epoch, point.loss, point.learningRate, point.gradNorm, Double(point.examples) / point.seconds))
                }
            }
        }
        let trainSeconds = Date().timeIntervalSince(start)
        let evalStart = Date()
        let (result, predictions) = Evaluator(mode: cfg.mode, maxNewTokens: cfg.evalMaxNewTokens, threads: cfg.threads)
            .score(model: run.model, tokenizer: run.tokenizer, dataset: dataset, examples: run.validation)
        let evalSeconds = Date().timeIntervalSince(evalStart)
        if cfg.validate { log(String(format: "validation: accuracy %.3f, format %.3f on %d records (%.1f s)", result.accuracy, result.formatRate, result.count, evalSeconds)) }
        var info = cfg.initial?.info ?? [:]
        info.merge(["pipe.stage": "sft", "pipe.reasoning": cfg.mode.rawValue, "pipe.steps": "\(run.curve.count)"]) { $1 }
        if cfg.noiseSigma > 0 { info["pipe.noise_sigma"] = "\(cfg.noiseSigma)" }
        if let adversary = cfg.adversary { info["pipe.adversarial_eps"] = "\(adversary.attack.eps)" }
        let checkpoint = Checkpoint(model: run.model, tokenizer: run.tokenizer, info: info)
        return SFTResult(checkpoint: checkpoint, curve: run.curve, validation: result, predictions: predictions, trainSeconds: trainSeconds, evalSeconds: evalSeconds)
    }
}

/// One SFT run's state across its steps: the model being trained, its optimizer, the training
/// examples (their options reshuffled each epoch) and the validation ones.
struct SFTRun {
    let cfg: SFTConfig
    let dataset: VQADataset
    let tokenizer: Tokenizer
    let builder: ExampleBuilder
    let trainEntries: [DatasetIndex.Entry]
    var examples: [Example]
    let validation: [Example]
    let totalSteps: Int
    let schedule: LearningRateSchedule
    let parallel: ParallelGradients
    let attackers: [Attacker]
    var model: VisionLanguageModel
    var optimizer: AdamW
    var gradients: [Float]
    var random: SeededRandom
    var curve: [CurvePoint] = []

    /// Checks the settings and the dataset against each other, and sets up the model (the initial
    /// policy's, or a fresh one of the configured shape) and its examples.
    init(_ trainer: SFTTrainer, on dataset: VQADataset) throws {
        let cfg = trainer.config
        self.cfg = cfg
        self.dataset = dataset
        let trainEntries = SFTTrainer.imageShare(dataset.records(.train), fraction: cfg.trainFraction)
        self.trainEntries = trainEntries
        guard !trainEntries.isEmpty else {
            throw TrainingError("the dataset has no training records; check the unpack stage's split and filters")
        }
        guard cfg.epochs >= 1, cfg.batchSize >= 1, cfg.microBatch >= 1 else { throw TrainingError("epochs, batch_size and micro_batch must be positive") }
        let tokenizer = cfg.initial?.tokenizer ?? Tokenizer(texts: dataset.vocabularyTexts())
        self.tokenizer = tokenizer
        var modelConfig = cfg.initial?.model.config ?? cfg.model
        modelConfig.imageSize = dataset.imageSize
        modelConfig.vocabSize = tokenizer.count
        if let problem = modelConfig.problem { throw TrainingError("model: \(problem)") }
        if let initial = cfg.initial, initial.model.config.imageSize != dataset.imageSize {
            throw TrainingError("the policy's images are \(initial.model.config.imageSize) pixels, the dataset's \(dataset.imageSize)")
        }
        let builder = ExampleBuilder(tokenizer: tokenizer, mode: cfg.mode, records: dataset.index.records.map(\.record))
        let examples = trainEntries.map(builder.example)
        if let long = examples.first(where: { $0.prompt.count + $0.target.count - 1 > modelConfig.maxLen }) {
            throw TrainingError("record \(long.record.questionID) needs \(long.prompt.count + long.target.count - 1) tokens; max_len is \(modelConfig.maxLen): raise model.max_len")
        }
        let validation = cfg.validate ? Subset.spread(dataset.records(.val), limit: cfg.evalLimit).map(builder.example) : []
        try Example.requireRoomToGenerate(validation, maxLen: modelConfig.maxLen)
        let model = try cfg.initial?.model ?? VisionLanguageModel(config: modelConfig, seed: cfg.seed)
        let totalSteps = (examples.count + cfg.batchSize - 1) / cfg.batchSize * cfg.epochs
        self.builder = builder
        self.examples = examples
        self.validation = validation
        self.model = model
        self.totalSteps = totalSteps
        schedule = LearningRateSchedule(peak: cfg.learningRate, warmupSteps: min(cfg.warmupSteps, totalSteps),
                                        totalSteps: totalSteps, minRatio: cfg.minLearningRateRatio)
        optimizer = AdamW(parameters: model.parameters, weightDecay: cfg.weightDecay)
        parallel = ParallelGradients(model: model, threads: cfg.threads)
        attackers = cfg.adversary == nil ? [] : (0..<cfg.threads).map { _ in Attacker(model) }
        gradients = [Float](repeating: 0, count: model.parameters.count)
        random = SeededRandom(seed: SeedStream.sftOrder.seed(cfg.seed))
    }

    /// The epoch's order of the training examples; from the second epoch on (with
    /// `shuffle_options`), each question's options reordered at random.
    mutating func startEpoch(_ epoch: Int) -> [Int] {
        var order = Array(examples.indices)
        order.shuffle(using: &random)
        if cfg.shuffleOptions && epoch > 0 {
            for index in examples.indices {
                let record = trainEntries[index].record
                var permutation = Array(record.options.indices)
                permutation.shuffle(using: &random)
                examples[index] = builder.example(record.reorderingOptions(permutation), image: trainEntries[index].image)
            }
        }
        return order
    }

    /// One optimizer step on the examples at `indices`; returns (and records) its curve point.
    mutating func step(_ indices: ArraySlice<Int>, epoch: Int) throws -> CurvePoint {
        let step = curve.count
        let stepStart = Date()
        let batch = perturbed(indices.map { examples[$0] }, step: step)
        let micro = stride(from: 0, to: batch.count, by: cfg.microBatch).map {
            TokenBatch(Array(batch[$0..<min(batch.count, $0 + cfg.microBatch)]), dataset: dataset)
        }
        let loss = parallel.crossEntropy(parameters: model.parameters.values, batches: micro, gradients: &gradients)
        guard loss.isFinite else {
            throw TrainingError("the loss became \(loss) at step \(step); lower `lr` (now \(cfg.learningRate)) or `grad_clip`")
        }
        let norm = GradientClipping.clip(&gradients, maxNorm: cfg.gradClip)
        let lr = schedule.rate(at: step)
        optimizer.update(&model.parameters.values, gradients: gradients, lr: lr)
        let seconds = max(Date().timeIntervalSince(stepStart), 1e-9)
        let tokens = micro.reduce(0) { $0 + $1.b * $1.t }
        let point = CurvePoint(step: step, epoch: epoch, loss: loss, learningRate: lr, gradNorm: norm, tokens: tokens,
                               seconds: seconds, examples: batch.count)
        curve.append(point)
        return point
    }

    /// The batch as trained on: with `noise_sigma`, every image noisy; with adversarial training,
    /// the images of its first share replaced by attacks against the current weights.
    func perturbed(_ examples: [Example], step: Int) -> [Example] {
        var batch = examples
        if cfg.noiseSigma > 0 {
            for k in batch.indices { batch[k].pixels = SFTTrainer.noisy(batch[k].image(in: dataset), sigma: cfg.noiseSigma, seed: cfg.seed, step: step, position: k) }
        }
        if let adversary = cfg.adversary {
            // The batch is in random order, so its first examples are a random share of it.
            _ = adversary.attackPrefix(&batch, attackers: attackers, parameters: model.parameters.values, dataset: dataset,
                                       step: step, seed: SeedStream.sftAttacks.seed(cfg.seed, step: step))
        }
        return batch
    }
}
