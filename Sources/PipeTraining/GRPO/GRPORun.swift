import Foundation
import PipeData
import PipeModel
import PipeRandom
import PipeTensor

/// One GRPO run's state across its steps: the policy being trained, its optimizer, the frozen
/// reference, the workers, and the order prompts are drawn in.
struct GRPORun {
    let trainer: GRPOTrainer
    let cfg: GRPOConfig
    let dataset: VQADataset
    let train: [Example]
    let tokenizer: Tokenizer
    /// The starting policy's parameters: the KL reference.
    let reference: [Float]
    let generators: [Generator]
    let attackers: [Attacker]
    let parallel: ParallelGradients
    let schedule: LearningRateSchedule
    var model: VisionLanguageModel
    var optimizer: AdamW
    var gradients: [Float]
    var order: [Int] = []
    var random: SeededRandom

    init(_ trainer: GRPOTrainer, from start: Checkpoint, dataset: VQADataset, train: [Example]) {
        let cfg = trainer.config
        self.trainer = trainer
        self.cfg = cfg
        self.dataset = dataset
        self.train = train
        model = start.model
        reference = start.model.parameters.values
        tokenizer = start.tokenizer
        generators = (0..<cfg.threads).map { _ in Generator(start.model) }
        attackers = cfg.adversary == nil ? [] : (0..<cfg.threads).map { _ in Attacker(start.model) }
        parallel = ParallelGradients(model: start.model, threads: cfg.threads)
        optimizer = AdamW(parameters: start.model.parameters, weightDecay: cfg.weightDecay)
        optimizer.epsilon = cfg.adamEpsilon
        schedule = LearningRateSchedule(peak: cfg.learningRate, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps,
                                        minRatio: cfg.minLearningRateRatio)
        gradients = [Float](repeating: 0, count: start.model.parameters.count)
        random = SeededRandom(seed: SeedStream.grpoPrompts.seed(cfg.seed))
    }

    /// One step: draw prompts, attack a share of them (AT-GRPO), sample G completions each, score
    /// them, and update the policy; returns the step's row of `curves.csv`.
    mutating func step(_ step: Int) throws -> GRPOStep {
        let stepStart = Date()
        var prompts = nextPrompts()
        let attacked = attack(&prompts, at: step)
        var phases = GRPOStep.Phases()
        phases.attack = Date().timeIntervalSince(stepStart)
        var mark = Date()
        let rollouts = trainer.sample(prompts, model: model, generators: generators, dataset: dataset, step: step)
        phases.rollout = Date().timeIntervalSince(mark)
        mark = Date()
        let scored = score(rollouts, of: prompts)
        let advantages = GRPOObjective.advantages(scored.rewards, scaling: cfg.objective.scaleRewards).flatMap { $0 }
        phases.reward = Date().timeIntervalSince(mark)
        mark = Date()
        let batches = stride(from: 0, to: scored.sequences.count, by: cfg.microBatch).map {
            TokenBatch(Array(scored.sequences[$0..<min(scored.sequences.count, $0 + cfg.microBatch)]), dataset: dataset, sharingImages: true)
        }
        let ref = cfg.objective.beta != 0
            ? GRPOTrainer.completionLogProbs(parallel.tokenLogProbs(parameters: reference, batches: batches, temperature: cfg.temperature), batches)
            : nil
        // With `adversarial_nll`, the attacked prompts teacher-forced on their reference responses.
        let referenceBatches = (cfg.adversary?.nllWeight ?? 0) > 0 && attacked > 0
            ? stride(from: 0, to: attacked, by: cfg.microBatch).map {
                TokenBatch(Array(prompts[$0..<min(attacked, $0 + cfg.microBatch)]), dataset: dataset)
            } : []
        let lr = schedule.rate(at: step)
        phases.logProbs = Date().timeIntervalSince(mark)
        mark = Date()
        let update = try self.update(batches: batches, completions: scored.sequences.count, advantages: advantages, ref: ref,
                                     referenceBatches: referenceBatches, lr: lr, step: step)
        phases.update = Date().timeIntervalSince(mark)
        return row(step, scored, update, attacked: attacked, lr: lr, seconds: Date().timeIntervalSince(stepStart), phases: phases)
    }

    /// The step's prompts, each to be sampled G times: the next of one shuffled pass over the
    /// training examples after another.
    mutating func nextPrompts() -> [Example] {
        var prompts: [Example] = []
        for _ in 0..<cfg.promptsPerStep {
            if order.isEmpty { order = Array(train.indices); order.shuffle(using: &random) }
            prompts.append(train[order.removeLast()])
        }
        return prompts
    }

    /// AT-GRPO: replaces the images of the first share of `prompts` by adversarial examples against
    /// the current policy; returns how many were attacked (0 for GRPO).
    func attack(_ prompts: inout [Example], at step: Int) -> Int {
        guard let adversary = cfg.adversary else { return 0 }
        return adversary.attackPrefix(&prompts, attackers: attackers, parameters: model.parameters.values, dataset: dataset,
                                      step: step, seed: SeedStream.grpoAttacks.seed(cfg.seed, step: step))
    }

    /// A step's completions with Med-R1's rewards, grouped by prompt.
    struct ScoredRollouts {
        var rewards: [[Double]] = []
        var formats = 0.0, correct = 0.0, lengths = 0.0
        /// Each prompt's number of correct completions.
        var promptCorrect: [Double] = []
        /// Each completion as a training sequence: its prompt's example with the completion as target.
        var sequences: [Example] = []
        /// `cot` only: each completion as a prediction, for the rationale statistics.
        var predictions: [Prediction] = []
    }

    func score(_ rollouts: [[[Int32]]], of prompts: [Example]) -> ScoredRollouts {
        var scored = ScoredRollouts()
        for (p, example) in prompts.enumerated() {
            var group: [Double] = [], groupCorrect = 0.0
            for completion in rollouts[p] {
                let text = tokenizer.decode(completion)
                let format = Rewards.format(text, mode: cfg.mode), accuracy = Rewards.accuracy(text, truth: example.record.answerLetter)
                group.append(format + accuracy)
                scored.formats += format
                scored.correct += accuracy
                groupCorrect += accuracy
                scored.lengths += Double(completion.count)
                if cfg.mode == .cot { scored.predictions.append(Prediction(example, completion: text, tokens: completion.count, mode: cfg.mode)) }
                var sequence = example
                sequence.target = completion.isEmpty ? [Tokenizer.eos] : completion
                scored.sequences.append(sequence)
            }
            scored.rewards.append(group)
            scored.promptCorrect.append(groupCorrect)
        }
        return scored
    }

    /// What a step's updates log: the KL and the token entropy of the policy that sampled the
    /// rollouts (first iteration, before this step's updates; the KL exactly 0 at step 0), the clip
    /// fraction over all iterations, the attacked prompts' NLL and the last gradient norm.
    struct UpdateStats {
        var kl = 0.0, clipped = 0.0, entropy = 0.0
        var adversarialNLL: Double?
        var norm: Float = 0
    }

    /// `num_iterations` updates of the policy on the step's micro-batches (plus, with
    /// `adversarial_nll`, the attacked prompts' reference NLL).
    mutating func update(batches: [TokenBatch], completions: Int, advantages: [Double], ref: [[Double]]?,
                         referenceBatches: [TokenBatch], lr: Float, step: Int) throws -> UpdateStats {
        var stats = UpdateStats()
        // The log-probs of the policy that sampled the rollouts come from the first update's own
        // forward pass (its ratio is 1 by definition), as TRL takes them when num_iterations is 1.
        var old: [[Double]]?
        let size = GRPOBatchSize(completions: completions, activeTokens: batches.reduce(0) { $0 + $1.responseTokens })
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
                let current = GRPOTrainer.completionLogProbs([logp], [batches[k]])
                let entropies = tokenEntropy.map { GRPOTrainer.completionLogProbs([$0], [batches[k]]) }
                entropySums[k] = entropies?.joined().reduce(0, +)
                let trained = selective ? entropies.map { GRPOObjective.highEntropyMask($0, top: objective.topEntropyQuantile) } : nil
                masks[k] = trained
                let part = current.indices.map { j in
                    let i = firstOf[k] + j
                    return CompletionTokens(logp: current[j], oldLogp: sampled?[i] ?? current[j], refLogp: ref?[i], advantage: advantages[i],
                                            trained: trained?[j])
                }
                return GRPOTrainer.scatter(GRPOObjective.loss(part, settings: objective, batch: size).dlogp, into: [batches[k]])[0]
            }
            let current = GRPOTrainer.completionLogProbs(perBatch, batches)
            if old == nil { old = current }
            let trained = selective ? masks.values.flatMap { $0 ?? [] } : []
            let tokens = (0..<completions).map { i in
                CompletionTokens(logp: current[i], oldLogp: old?[i] ?? current[i], refLogp: ref?[i], advantage: advantages[i],
                                 trained: selective ? trained[i] : nil)
            }
            let loss = GRPOObjective.loss(tokens, settings: cfg.objective)
            if iteration == 0 {
                stats.kl = loss.meanKL
                stats.entropy = entropySums.values.reduce(0) { $0 + ($1 ?? 0) } / Double(max(1, size.activeTokens))
            }
            stats.clipped += loss.clipFraction / Double(cfg.iterations)
            guard loss.loss.isFinite else { throw TrainingError("the GRPO loss became \(loss.loss) at step \(step); lower `lr`") }
            if !referenceBatches.isEmpty {
                let nll = try addReferenceNLL(referenceBatches, step: step)
                if iteration == 0 { stats.adversarialNLL = nll }
            }
            stats.norm = GradientClipping.clip(&gradients, maxNorm: cfg.gradClip)
            optimizer.update(&model.parameters.values, gradients: gradients, lr: lr)
        }
        return stats
    }

    /// Adds `adversarial_nll` times the gradient of the attacked prompts' reference-response NLL to
    /// `gradients`; returns the NLL.
    mutating func addReferenceNLL(_ referenceBatches: [TokenBatch], step: Int) throws -> Double {
        var nllGradients = [Float](repeating: 0, count: gradients.count)
        let nll = parallel.crossEntropy(parameters: model.parameters.values, batches: referenceBatches, gradients: &nllGradients)
        guard nll.isFinite else { throw TrainingError("the adversarial NLL became \(nll) at step \(step); lower `lr` or `adversarial_nll`") }
        let weight = Float(cfg.adversary?.nllWeight ?? 0)
        for i in gradients.indices { gradients[i] += weight * nllGradients[i] }
        return nll
    }

    /// The step's row of `curves.csv`.
    func row(_ step: Int, _ scored: ScoredRollouts, _ update: UpdateStats, attacked: Int, lr: Float, seconds: Double,
             phases: GRPOStep.Phases) -> GRPOStep {
        let all = scored.rewards.flatMap { $0 }
        let count = Double(all.count)
        return GRPOStep(step: step, rewardMean: all.reduce(0, +) / count, rewardStd: GRPOObjective.standardDeviation(all),
                        formatRate: scored.formats / count, accuracy: scored.correct / count,
                        kl: update.kl, clipFraction: update.clipped, completionLength: scored.lengths / count,
                        gradNorm: update.norm, learningRate: lr, entropy: update.entropy,
                        zeroStdFraction: GRPOObjective.zeroStdFraction(scored.rewards),
                        rationale: scored.predictions.isEmpty ? nil
                            : GRPOStep.RolloutRationale(scored.predictions, records: scored.sequences.map(\.record)),
                        seconds: seconds, phases: phases,
                        adversarial: cfg.adversary.map { adversary in
                            var split = GRPOTrainer.split(rewards: scored.rewards, correct: scored.promptCorrect, attacked: attacked,
                                                          eps: adversary.attack(at: step).eps)
                            split.nll = update.adversarialNLL
                            return split
                        })
    }
}
