import Foundation
import PipeData
import PipeModel
import PipeRandom
import PipeTensor

/// GRPO settings (the `grpo` stage's options).
public struct GRPOConfig: Sendable {
    public var mode = ReasoningMode.cot
    public var objective = GRPOSettings()
    /// Completions sampled per prompt (G).
    public var groupSize = 4
    /// Prompts per step.
    public var promptsPerStep = 8
    public var steps = 100
    public var temperature: Float = 1
    public var maxNewTokens = 96
    /// Updates per batch of rollouts (the ratio differs from 1 after the first).
    public var iterations = 1
    public var learningRate: Float = 1e-4
    public var warmupSteps = 0
    /// AdamW's epsilon.
    public var adamEpsilon: Float = 1e-8
    public var minLearningRateRatio: Float = 1
    public var weightDecay: Float = 0
    public var gradClip: Float = 1
    /// Completions per forward/backward pass.
    public var microBatch = 8
    public var threads = 1
    public var seed: UInt64 = 0
    public var evalLimit = 0
    public var evalMaxNewTokens = 96
    /// AT-GRPO: rollouts on adversarial images for part of each step; nil for plain GRPO.
    public var adversary: AdversarialTraining? = nil

    public init() {}
}

/// One GRPO step's statistics (a row of `curves.csv`).
public struct GRPOStep: Sendable {
    public var step: Int
    public var rewardMean: Double, rewardStd: Double
    public var formatRate: Double, accuracy: Double
    public var kl: Double, clipFraction: Double, completionLength: Double
    public var gradNorm: Float, learningRate: Float
    /// Mean entropy (nats) of the completion tokens under the policy that sampled them, at the
    /// sampling temperature (TRL's `entropy`): falls as the policy grows surer of its answers.
    public var entropy: Double = 0
    /// Share of the step's groups whose rewards are all equal, so their advantages are zero (TRL's
    /// `frac_reward_zero_std`).
    public var zeroStdFraction: Double = 0
    /// `cot` only: how the rollouts' answers relate to their rationales (nil for `instruct`).
    public var rationale: RolloutRationale? = nil
    public var seconds: Double
    /// Where the step's time went.
    public var phases = Phases()
    /// AT-GRPO only: mean reward and accuracy of the clean and of the attacked prompts' completions,
    /// and the step's eps.
    public var adversarial: AdversarialStep? = nil

    /// Seconds of a step by phase: crafting attacks (AT-GRPO), sampling rollouts, rewards and
    /// advantages, the reference's log-probs, the updates (forward, whose log-probs are also the
    /// sampling policy's on the first update, backward, optimizer).
    public struct Phases: Sendable {
        public var attack = 0.0, rollout = 0.0, reward = 0.0, logProbs = 0.0, update = 0.0
        public static let csvHeader = "attack_s,rollout_s,reward_s,logprob_s,update_s"
        public var csv: String { String(format: "%.4f,%.4f,%.4f,%.4f,%.4f", attack, rollout, reward, logProbs, update) }
    }

    /// The rollouts' rationales, measured as `evaluate` measures greedy answers (`RationaleCheck`).
    public struct RolloutRationale: Sendable {
        /// Share of the rollouts whose rationale concludes with the true answer's text.
        public var conclusionAccuracy: Double
        /// Share of the concluded rollouts whose letter is the option their conclusion names.
        public var faithful: Double
        /// Share of the right rollouts whose conclusion is not the true answer: rewarded for a letter
        /// their own steps do not give.
        public var rightAgainstConclusion: Double

        init(_ predictions: [Prediction], records: [VQARecord]) {
            let check = RationaleCheck.measure(predictions, records: records)
            conclusionAccuracy = check.conclusionAccuracy
            faithful = check.faithful
            rightAgainstConclusion = RationaleCheck.rightAgainstConclusion(predictions, records: records)
        }
    }

    public struct AdversarialStep: Sendable {
        public var cleanReward: Double, cleanAccuracy: Double
        public var adversarialReward: Double, adversarialAccuracy: Double
        public var eps: Double
        /// The reference response's mean token NLL on the attacked images (with `adversarial_nll`; else nil).
        public var nll: Double? = nil
    }

    public static let csvHeader = "step,reward_mean,reward_std,format_rate,accuracy,kl,clip_fraction,completion_length,grad_norm,lr,"
        + "entropy,frac_reward_zero_std,conclusion_accuracy,faithful,right_against_conclusion"
    /// The header of AT-GRPO's curves: GRPO's columns, then the clean/adversarial split.
    public static let adversarialCSVHeader = csvHeader + ",clean_reward,clean_accuracy,adv_reward,adv_accuracy,eps,adv_nll"
    public var csv: String {
        let base = String(format: "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.6f,%.3f,%.6f,%.6g,%.6f,%.6f,", step, rewardMean, rewardStd, formatRate, accuracy,
                          kl, clipFraction, completionLength, gradNorm, learningRate, entropy, zeroStdFraction)
            + (rationale.map { String(format: "%.6f,%.6f,%.6f", $0.conclusionAccuracy, $0.faithful, $0.rightAgainstConclusion) } ?? ",,")
        guard let a = adversarial else { return base }
        return base + String(format: ",%.6f,%.6f,%.6f,%.6f,%.6g,", a.cleanReward, a.cleanAccuracy, a.adversarialReward,
                             a.adversarialAccuracy, a.eps) + (a.nll.map { String(format: "%.6f", $0) } ?? "")
    }
}

public struct GRPOResult: Sendable {
    public var checkpoint: Checkpoint
    public var curve: [GRPOStep]
    public var validation: EvaluationResult
    /// Each validation answer, in split order.
    public var predictions: [Prediction]
}

/// Med-R1's GRPO on a policy from a checkpoint (usually the SFT warm-up): per step, G completions
/// per prompt sampled from the current policy, Med-R1's rewards, group-relative advantages, and
/// the clipped objective with a KL penalty to the frozen starting policy.
public struct GRPOTrainer: Sendable {
    public var config: GRPOConfig

    public init(_ config: GRPOConfig) { self.config = config }

    public func train(from start: Checkpoint, on dataset: VQADataset, log: (String) -> Void = { _ in },
                      shouldStop: () -> Bool = { false }) throws -> GRPOResult {
        let cfg = config
        guard cfg.groupSize >= 2 else { throw TrainingError("group_size must be at least 2: advantages compare completions of one prompt") }
        guard cfg.promptsPerStep >= 1, cfg.steps >= 1, cfg.iterations >= 1 else { throw TrainingError("prompts, steps and iterations must be positive") }
        guard start.model.config.imageSize == dataset.imageSize else {
            throw TrainingError("the checkpoint's images are \(start.model.config.imageSize) pixels, the dataset's \(dataset.imageSize)")
        }
        let builder = ExampleBuilder(tokenizer: start.tokenizer, mode: cfg.mode, records: dataset.index.records.map(\.record))
        let train = dataset.records(.train).map(builder.example)
        guard !train.isEmpty else { throw TrainingError("the dataset has no training records") }
        let validation = Subset.spread(dataset.records(.val), limit: cfg.evalLimit).map(builder.example)
        try Example.requireRoomToGenerate(train + validation, maxLen: start.model.config.maxLen)
        var run = GRPORun(self, from: start, dataset: dataset, train: train)
        var curve: [GRPOStep] = []
        for step in 0..<cfg.steps {
            if shouldStop() { throw TrainingError("stopped") }
            let row = try run.step(step)
            curve.append(row)
            if step % 10 == 0 || step == cfg.steps - 1 {
                log(String(format: "step %d/%d reward %.3f (format %.2f, accuracy %.2f) kl %.4f clip %.3f length %.1f grad norm %.3f",
                           step + 1, cfg.steps, row.rewardMean, row.formatRate, row.accuracy, row.kl, row.clipFraction,
                           row.completionLength, row.gradNorm))
            }
        }
        let model = run.model, tokenizer = start.tokenizer
        let (result, predictions) = Evaluator(mode: cfg.mode, maxNewTokens: cfg.evalMaxNewTokens, threads: cfg.threads)
            .score(model: model, tokenizer: tokenizer, dataset: dataset, examples: validation)
        log(String(format: "validation: accuracy %.3f, format %.3f on %d records", result.accuracy, result.formatRate, result.count))
        var info = start.info
        info["pipe.stage"] = cfg.adversary == nil ? "grpo" : "at-grpo"
        info["pipe.steps"] = "\(cfg.steps)"
        return GRPOResult(checkpoint: Checkpoint(model: model, tokenizer: tokenizer, info: info), curve: curve, validation: result, predictions: predictions)
    }

    /// Mean reward and accuracy of the clean prompts' completions and of the attacked ones' (the
    /// first `attacked` prompts); `correct` holds each prompt's number of correct completions.
    static func split(rewards: [[Double]], correct: [Double], attacked: Int, eps: Double) -> GRPOStep.AdversarialStep {
        func mean(_ groups: ArraySlice<[Double]>) -> Double {
            let all = groups.flatMap { $0 }
            return all.isEmpty ? 0 : all.reduce(0, +) / Double(all.count)
        }
        func rate(_ counts: ArraySlice<Double>, _ groups: ArraySlice<[Double]>) -> Double {
            let n = groups.reduce(0) { $0 + $1.count }
            return n == 0 ? 0 : counts.reduce(0, +) / Double(n)
        }
        return GRPOStep.AdversarialStep(cleanReward: mean(rewards[attacked...]), cleanAccuracy: rate(correct[attacked...], rewards[attacked...]),
                                        adversarialReward: mean(rewards[..<attacked]),
                                        adversarialAccuracy: rate(correct[..<attacked], rewards[..<attacked]), eps: eps)
    }

    /// G completions per prompt, sampled on worker threads; seeds from (seed, step, prompt, g).
    func sample(_ prompts: [Example], model: VisionLanguageModel, generators: [Generator], dataset: VQADataset, step: Int) -> [[[Int32]]] {
        let cfg = config
        let results = ResultSlots<[[Int32]]>(count: prompts.count)
        let sampling = Sampling(temperature: cfg.temperature, maxNewTokens: cfg.maxNewTokens)
        DispatchQueue.concurrentPerform(iterations: generators.count) { worker in
            for p in stride(from: worker, to: prompts.count, by: generators.count) {
                let example = prompts[p]
                let image = Array(example.image(in: dataset))
                let images = Array([[Float]](repeating: image, count: cfg.groupSize).joined())
                let seeds = (0..<cfg.groupSize).map { g -> UInt64 in
                    var mix = SeededRandom(seed: SeedStream.grpoRollouts.seed(cfg.seed, step: step, item: p * 97 + g))
                    return mix.next()
                }
                results[p] = generators[worker].generate(parameters: model.parameters.values, images: images,
                                                         prompts: Array(repeating: example.prompt, count: cfg.groupSize),
                                                         segments: Array(repeating: example.promptSegments, count: cfg.groupSize),
                                                         sampling: sampling, seeds: seeds)
            }
        }
        return results.values.map { $0 ?? [] }
    }

    /// Per completion (in batch order), the log-probs of its tokens, from per-batch (B * T) arrays.
    static func completionLogProbs(_ perBatch: [[Float]], _ batches: [TokenBatch]) -> [[Double]] {
        var out: [[Double]] = []
        for (batch, logp) in zip(batches, perBatch) {
            for row in 0..<batch.b {
                out.append((0..<batch.t).compactMap { j in batch.mask[row * batch.t + j] != 0 ? Double(logp[row * batch.t + j]) : nil })
            }
        }
        return out
    }

    /// The inverse of `completionLogProbs`: per-token gradients back into (B * T) arrays.
    static func scatter(_ perCompletion: [[Double]], into batches: [TokenBatch]) -> [[Float]] {
        var index = 0
        return batches.map { batch in
            var out = [Float](repeating: 0, count: batch.b * batch.t)
            for row in 0..<batch.b {
                var k = 0
                for j in 0..<batch.t where batch.mask[row * batch.t + j] != 0 {
                    out[row * batch.t + j] = Float(perCompletion[index][k])
                    k += 1
                }
                index += 1
            }
            return out
        }
    }
}
