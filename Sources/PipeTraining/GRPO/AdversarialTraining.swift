import Foundation
import PipeData
import PipeModel
import PipeRandom

/// AT-GRPO (SafeMed-R1): for a share of each step's prompts the image is replaced, before rollouts
/// are sampled, by a PGD adversarial example against the current policy; rewards and the update
/// then use the perturbed image.
public struct AdversarialTraining: Sendable, Equatable {
    /// The attack at full strength (the answer NLL of `<answer> X </answer>` is its loss).
    public var attack: AttackSettings
    /// Share of each step's prompts that are attacked (rounded; at least one when above 0).
    public var fraction: Double
    /// Steps over which eps and alpha ramp linearly from eps/warmup to their full value (0: none).
    public var epsWarmupSteps: Int
    /// Weight of the attack's own loss, the reference response's mean token NLL on the attacked
    /// images, added to the GRPO loss: Madry's outer minimization beside the policy gradient (0: none,
    /// the rollouts' rewards are the only adversarial signal).
    public var nllWeight: Double

    public init(attack: AttackSettings, fraction: Double = 0.5, epsWarmupSteps: Int = 0, nllWeight: Double = 0) {
        self.attack = attack
        self.fraction = fraction
        self.epsWarmupSteps = epsWarmupSteps
        self.nllWeight = nllWeight
    }

    /// The attack at `step` (0-based), eps and alpha scaled by the warm-up.
    public func attack(at step: Int) -> AttackSettings {
        guard epsWarmupSteps > 0, step < epsWarmupSteps else { return attack }
        let scale = Double(step + 1) / Double(epsWarmupSteps)
        var settings = attack
        settings.eps *= scale
        settings.alpha *= scale
        return settings
    }

    /// How many of `prompts` prompts are attacked each step.
    public func attacked(of prompts: Int) -> Int {
        guard fraction > 0 else { return 0 }
        return min(prompts, max(1, Int((fraction * Double(prompts)).rounded())))
    }

    /// Replaces the first `attacked(of:)` of `examples` by adversarial examples against the policy
    /// `parameters` at `step`'s strength; returns how many were attacked.
    public func attackPrefix(_ examples: inout [Example], attackers: [Attacker], parameters: [Float], dataset: VQADataset,
                             step: Int, seed: UInt64) -> Int {
        let count = attacked(of: examples.count)
        let perturbed = Attacker.perturb(Array(examples.prefix(count)), attackers: attackers, parameters: parameters,
                                         dataset: dataset, settings: attack(at: step), seed: seed)
        examples.replaceSubrange(0..<count, with: perturbed)
        return count
    }
}

extension Attacker {
    /// The teacher-forced response each attack pushes away from: the example's reference response
    /// (`<answer> X </answer>` for `instruct`; for `cot` the rationale and the answer, since a
    /// chain-of-thought policy decides while it writes the rationale, and an answer forced right
    /// after the prompt is one it never produces).
    public static func answerTokens(for example: Example) -> [Int32] {
        example.target.last == Tokenizer.eos ? Array(example.target.dropLast()) : example.target
    }

    /// `examples` with `pixels` set to adversarial images against the policy `parameters`.
    public func perturb(_ examples: [Example], parameters: [Float], dataset: VQADataset,
                        settings: AttackSettings, seeds: [UInt64]) -> [Example] {
        guard !examples.isEmpty else { return [] }
        let images = attack(parameters: parameters, examples: examples, dataset: dataset,
                            answerTargets: examples.map(Self.answerTokens(for:)),
                            settings: settings, seeds: seeds)
        return examples.enumerated().map { i, example in
            var perturbed = example
            perturbed.pixels = Array(images[(i * pixels)..<((i + 1) * pixels)])
            return perturbed
        }
    }

    /// Adversarial versions of `examples`, crafted in fixed chunks of `chunk` on worker threads (one
    /// attacker each), so the result does not depend on the number of threads; example i's random
    /// start is seeded from (seed, i).
    public static func perturb(_ examples: [Example], attackers: [Attacker], parameters: [Float], dataset: VQADataset,
                               settings: AttackSettings, seed: UInt64, chunk: Int = 2) -> [Example] {
        let chunks = stride(from: 0, to: examples.count, by: chunk).map { $0..<min(examples.count, $0 + chunk) }
        let results = ResultSlots<[Example]>(count: chunks.count)
        DispatchQueue.concurrentPerform(iterations: min(attackers.count, max(1, chunks.count))) { worker in
            for index in stride(from: worker, to: chunks.count, by: attackers.count) {
                let range = chunks[index]
                let seeds = range.map { i -> UInt64 in
                    var mix = SeededRandom(seed: seed &+ UInt64(i) &* 0x9e37_79b9)
                    return mix.next()
                }
                results[index] = attackers[worker].perturb(Array(examples[range]), parameters: parameters, dataset: dataset,
                                                           settings: settings, seeds: seeds)
            }
        }
        return results.values.flatMap { $0 ?? [] }
    }
}
