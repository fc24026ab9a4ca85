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
        var model = start.model
        let reference = start.model.parameters.values
        let tokenizer = start.tokenizer
        let generators = (0..<cfg.threads).map { _ in Generator(model) }
        let attackers = cfg.adversary == nil ? [] : (0..<cfg.threads).map { _ in Attacker(model) }
        let parallel = ParallelGradients(model: model, threads: cfg.threads)
        var optimizer = AdamW(parameters: model.parameters, weightDecay: cfg.weightDecay)
        optimizer.epsilon = cfg.adamEpsilon
        let schedule = LearningRateSchedule(peak: cfg.learningRate, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps,
                                            minRatio: cfg.minLearningRateRatio)
        var gradients = [Float](repeating: 0, count: model.parameters.count)
        var order: [Int] = []
        var random = SeededRandom(seed: cfg.seed ^ 0x6a09)
        var curve: [GRPOStep] = []
        for step in 0..<cfg.steps {
            if shouldStop() { throw TrainingError("stopped") }
            let stepStart = Date()
            // The step's prompts, each repeated G times: groups are kept by prompt explicitly.
            var prompts: [Example] = []
            for _ in 0..<cfg.promptsPerStep {
                if order.isEmpty { order = Array(train.indices); order.shuffle(using: &random) }
                prompts.append(train[order.removeLast()])
            }
            var attacked = 0
            if let adversary = cfg.adversary {
                attacked = adversary.attacked(of: prompts.count)
                let perturbed = Attacker.perturb(Array(prompts.prefix(attacked)), attackers: attackers, parameters: model.parameters.values,
                                                 dataset: dataset, settings: adversary.attack(at: step),
                                                 seed: cfg.seed ^ 0xa77ac &+ UInt64(step) &* 7_919)
                prompts.replaceSubrange(0..<attacked, with: perturbed)
            }
            var phases = GRPOStep.Phases()
            phases.attack = Date().timeIntervalSince(stepStart)
            var mark = Date()
            let rollouts = sample(prompts, model: model, generators: generators, dataset: dataset, step: step)
            phases.rollout = Date().timeIntervalSince(mark)
            mark = Date()
            var rewards: [[Double]] = [], formats = 0.0, correct = 0.0, lengths = 0.0, promptCorrect: [Double] = []
            var sequences: [Example] = [], predictions: [Prediction] = []
            for (p, example) in prompts.enumerated() {
                var group: [Double] = [], groupCorrect = 0.0
                for completion in rollouts[p] {
                    let text = tokenizer.decode(completion)
                    let format = Rewards.format(text, mode: cfg.mode), accuracy = Rewards.accuracy(text, truth: example.record.answerLetter)
                    group.append(format + accuracy)
                    formats += format
                    correct += accuracy
                    groupCorrect += accuracy
                    lengths += Double(completion.count)
                    if cfg.mode == .cot { predictions.append(Prediction(example, completion: text, tokens: completion.count, mode: cfg.mode)) }
                    var sequence = example
                    sequence.target = completion.isEmpty ? [Tokenizer.eos] : completion
                    sequences.append(sequence)
                }
                rewards.append(group)
                promptCorrect.append(groupCorrect)
            }
            let advantages = GRPOObjective.advantages(rewards, scaling: cfg.objective.scaleRewards).flatMap { $0 }
            phases.reward = Date().timeIntervalSince(mark)
            mark = Date()
            let batches = stride(from: 0, to: sequences.count, by: cfg.microBatch).map {
                TokenBatch(Array(sequences[$0..<min(sequences.count, $0 + cfg.microBatch)]), dataset: dataset, sharingImages: true)
            }
            let ref = cfg.objective.beta != 0
                ? Self.completionLogProbs(parallel.tokenLogProbs(parameters: reference, batches: batches, temperature: cfg.temperature), batches)
                : nil
            // Logged: the KL and the token entropy of the policy that sampled the rollouts (first
            // iteration, before this step's updates; the KL exactly 0 at step 0) and the clip
            // fraction over all iterations.
            var kl = 0.0, clipped = 0.0, entropy = 0.0, adversarialNLL: Double?
            var norm: Float = 0
            // With `adversarial_nll`, the attacked prompts teacher-forced on their reference responses.
            let nllWeight = cfg.adversary?.nllWeight ?? 0
            let referenceBatches = nllWeight > 0 && attacked > 0
                ? stride(from: 0, to: attacked, by: cfg.microBatch).map {
                    TokenBatch(Array(prompts[$0..<min(attacked, $0 + cfg.microBatch)]), dataset: dataset)
                } : []
            let lr = schedule.rate(at: step)
            phases.logProbs = Date().timeIntervalSince(mark)
            mark = Date()
            // The log-probs of the policy that sampled the rollouts come from the first update's own
            // forward pass (its ratio is 1 by definition), as TRL takes them when num_iterations is 1.
            var old: [[Double]]?
            let size = GRPOBatchSize(completions: sequences.count, activeTokens: batches.reduce(0) { $0 + $1.responseTokens })
            // The index of each micro-batch's first completion.
            let firstOf = batches.indices.map { k in batches[..<k].reduce(0) { $0 + $1.b } }
            for iteration in 0..<cfg.iterations {
                let sampled = old, objective = cfg.objective
                // With `top_entropy_quantile`, each micro-batch trains the policy term of its most
                // uncertain tokens under the current policy (TRL picks them per device batch).
                let selective = objective.topEntropyQuantile < 1
                let masks = ResultSlots<[[Bool]]>(count: batches.count)
                // Per micro-batch, the sum of its completion tokens' entropies (logged from the first update).
                let entropySums = ResultSlots<Double>(count: batches.count)
                let perBatch = parallel.gradients(parameters: model.parameters.values, batches: batches, gradients: &gradients,
                                                  temperature: cfg.temperature, entropies: selective || iteration == 0) { k, logp, tokenEntropy in
                    let current = Self.completionLogProbs([logp], [batches[k]])
                    let entropies = tokenEntropy.map { Self.completionLogProbs([$0], [batches[k]]) }
                    entropySums[k] = entropies?.joined().reduce(0, +)
                    let trained = selective ? entropies.map { GRPOObjective.highEntropyMask($0, top: objective.topEntropyQuantile) } : nil
                    masks[k] = trained
                    let part = current.indices.map { j in
                        let i = firstOf[k] + j
                        return CompletionTokens(logp: current[j], oldLogp: sampled?[i] ?? current[j], refLogp: ref?[i], advantage: advantages[i],
                                                trained: trained?[j])
                    }
                    return Self.scatter(GRPOObjective.loss(part, settings: objective, batch: size).dlogp, into: [batches[k]])[0]
                }
                let current = Self.completionLogProbs(perBatch, batches)
                if old == nil { old = current }
                let trained = selective ? masks.values.flatMap { $0 ?? [] } : []
                let completions = sequences.indices.map { i in
                    CompletionTokens(logp: current[i], oldLogp: old?[i] ?? current[i], refLogp: ref?[i], advantage: advantages[i],
                                     trained: selective ? trained[i] : nil)
                }
                let stats = GRPOObjective.loss(completions, settings: cfg.objective)
                if iteration == 0 {
                    kl = stats.meanKL
                    entropy = entropySums.values.reduce(0) { $0 + ($1 ?? 0) } / Double(max(1, size.activeTokens))
                }
                clipped += stats.clipFraction / Double(cfg.iterations)
                guard stats.loss.isFinite else { throw TrainingError("the GRPO loss became \(stats.loss) at step \(step); lower `lr`") }
                if !referenceBatches.isEmpty {
                    var nllGradients = [Float](repeating: 0, count: gradients.count)
                    let nll = parallel.crossEntropy(parameters: model.parameters.values, batches: referenceBatches, gradients: &nllGradients)
                    guard nll.isFinite else { throw TrainingError("the adversarial NLL became \(nll) at step \(step); lower `lr` or `adversarial_nll`") }
                    if iteration == 0 { adversarialNLL = nll }
                    let weight = Float(nllWeight)
                    for i in gradients.indices { gradients[i] += weight * nllGradients[i] }
                }
                norm = GradientClipping.clip(&gradients, maxNorm: cfg.gradClip)
                optimizer.update(&model.parameters.values, gradients: gradients, lr: lr)
            }
            phases.update = Date().timeIntervalSince(mark)
            let all = rewards.flatMap { $0 }
            let count = Double(all.count)
            let mean = all.reduce(0, +) / count
            let std = GRPOObjective.standardDeviation(all)
            curve.append(GRPOStep(step: step, rewardMean: mean, rewardStd: std, formatRate: formats / count, accuracy: correct / count,
                                  kl: kl, clipFraction: clipped, completionLength: lengths / count,
                                  gradNorm: norm, learningRate: lr, entropy: entropy, zeroStdFraction: GRPOObjective.zeroStdFraction(rewards),
                                  rationale: predictions.isEmpty ? nil
                                      : GRPOStep.RolloutRationale(predictions, records: sequences.map(\.record)),
                                  seconds: Date().timeIntervalSince(stepStart), phases: phases,
                                  adversarial: cfg.adversary.map { adversary in
                                      var split = Self.split(rewards: rewards, correct: promptCorrect, attacked: attacked,
                                                             eps: adversary.attack(at: step).eps)
                                      split.nll = adversarialNLL
                                      return split
                                  }))
            if step % 10 == 0 || step == cfg.steps - 1 {
                log(String(format: "step %d/%d reward %.3f (format %.2f, accuracy %.2f) kl %.4f clip %.3f length %.1f grad norm %.3f",
                           step + 1, cfg.steps, mean, formats / count, correct / count, kl, clipped, lengths / count, norm))
            }
        }
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
                    var mix = SeededRandom(seed: cfg.seed &+ UInt64(step) &* 1_000_003 &+ UInt64(p) &* 97 &+ UInt64(g))
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
