import Foundation
import PipeModel
import Testing
@testable import PipeTraining

/// GRPO end to end on a tiny model: KL 0 at the first step, groups by prompt, the same result for
/// any thread count, and bad settings refused.
struct GRPOTrainerTests {
    static func config(threads: Int) -> GRPOConfig {
        var config = GRPOConfig()
        config.mode = .instruct
        config.steps = 3
        config.promptsPerStep = 3
        config.groupSize = 3
        config.maxNewTokens = 6
        config.microBatch = 4
        config.learningRate = 1e-3
        config.iterations = 2
        config.temperature = 1.5   // diverse completions, so rewards differ within groups
        config.threads = threads
        config.seed = 9
        config.evalMaxNewTokens = 6
        return config
    }

    @Test func runsDeterministicallyWithKLZeroAtTheStart() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        // The SFT test's settings: a policy that answers in format about half of the time.
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        let one = try GRPOTrainer(Self.config(threads: 1)).train(from: start, on: dataset)
        let two = try GRPOTrainer(Self.config(threads: 2)).train(from: start, on: dataset)
        #expect(try one.checkpoint.encoded() == (try two.checkpoint.encoded()), "the same policy for 1 and 2 threads")
        #expect(one.curve.count == 3)
        #expect(one.curve[0].kl == 0, "the policy starts at the reference")
        #expect(one.curve.contains { $0.rewardStd > 0 }, "some group has unequal rewards: \(one.curve.map(\.csv))")
        #expect(one.checkpoint.model.parameters.values != start.model.parameters.values, "so the policy moved")
        #expect(one.curve.allSatisfy { $0.rewardMean >= 0 && $0.rewardMean <= 2 && $0.completionLength > 0 })
    }

    /// The logged entropy is the sampling policy's at the sampling temperature, and the share of
    /// groups with equal rewards follows it: near-greedy sampling gives most prompts G copies of one
    /// answer, so most groups are flat and the tokens' entropy is near 0.
    @Test func entropyAndFlatGroupsFollowTheSamplingTemperature() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        func run(temperature: Float) throws -> [GRPOStep] {
            var config = Self.config(threads: 1)
            config.temperature = temperature
            return try GRPOTrainer(config).train(from: start, on: dataset).curve
        }
        let hot = try run(temperature: 1.5), cold = try run(temperature: 0.02)
        func mean(_ steps: [GRPOStep], _ value: (GRPOStep) -> Double) -> Double { steps.map(value).reduce(0, +) / Double(steps.count) }
        let vocabulary = log(Double(start.tokenizer.count))
        #expect(hot.allSatisfy { $0.entropy > 0.1 && $0.entropy <= vocabulary }, "\(hot.map(\.csv))")
        #expect(mean(cold, \.entropy) < mean(hot, \.entropy) / 10, "\(cold.map(\.csv))")
        #expect(mean(cold, \.zeroStdFraction) > 0.6, "\(cold.map(\.csv))")
        #expect(mean(hot, \.zeroStdFraction) < mean(cold, \.zeroStdFraction), "\(hot.map(\.csv))")
        #expect((hot + cold).allSatisfy { $0.zeroStdFraction >= 0 && $0.zeroStdFraction <= 1 })
        #expect((hot + cold).allSatisfy { $0.rationale == nil && $0.csv.hasSuffix(",,,") }, "no rationale to check in `instruct`")
    }

    /// In `cot`, each step's rollouts are checked against their rationales as `evaluate` checks
    /// greedy answers; the shares are of the step's rollouts.
    @Test func cotRolloutsAreCheckedAgainstTheirRationales() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        var config = Self.config(threads: 1)
        config.mode = .cot
        config.maxNewTokens = 12
        let curve = try GRPOTrainer(config).train(from: start, on: dataset).curve
        for step in curve {
            let rationale = try #require(step.rationale)
            let shares = [rationale.conclusionAccuracy, rationale.faithful, rationale.rightAgainstConclusion]
            #expect(shares.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(step.csv)")
            // An instruct-trained policy writes no conclusion, so every right rollout is right against it.
            #expect(rationale.conclusionAccuracy == 0, "\(step.csv)")
            #expect(step.accuracy == 0 || rationale.rightAgainstConclusion == 1, "\(step.csv)")
            #expect(step.csv.split(separator: ",", omittingEmptySubsequences: false).count == 15)
        }
    }

    /// AdamW's epsilon damps the steps of parameters whose gradients are small beside it: with one
    /// far above every gradient the policy moves much less than with the default.
    @Test func aLargeAdamEpsilonDampsTheUpdates() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        var damped = Self.config(threads: 1)
        damped.adamEpsilon = 1
        func moved(_ config: GRPOConfig) throws -> Float {
            let end = try GRPOTrainer(config).train(from: start, on: dataset).checkpoint.model.parameters.values
            return zip(end, start.model.parameters.values).map { abs($0 - $1) }.max() ?? 0
        }
        let plain = try moved(Self.config(threads: 1)), small = try moved(damped)
        #expect(small > 0 && small < plain / 10, "largest parameter change: \(small) with epsilon 1, \(plain) with 1e-8")
    }

    /// With `top_entropy_quantile` the update trains fewer tokens' policy terms: the policy moves
    /// otherwise, deterministically and the same for any thread count.
    @Test func aTopEntropyQuantileTrainsOnlyTheUncertainTokens() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        var config = Self.config(threads: 1)
        config.iterations = 1
        config.objective.beta = 0
        config.steps = 1
        func moved(_ config: GRPOConfig) throws -> (Float, Data) {
            let end = try GRPOTrainer(config).train(from: start, on: dataset).checkpoint
            let change = zip(end.model.parameters.values, start.model.parameters.values).map { abs($0 - $1) }.reduce(0, +)
            return (change, try end.encoded())
        }
        let all = try moved(config)
        config.objective.topEntropyQuantile = 0.2
        let some = try moved(config)
        config.threads = 2
        #expect(try moved(config).1 == some.1, "the same policy for 1 and 2 threads")
        #expect(some.0 > 0 && some.1 != all.1, "the policy moved, differently: \(some.0) against \(all.0)")
    }

    @Test func completionLogProbsRoundTrip() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 8)
        let tokenizer = Tokenizer(texts: dataset.vocabularyTexts())
        let builder = ExampleBuilder(tokenizer: tokenizer, mode: .instruct, records: dataset.index.records.map(\.record))
        var examples = Array(dataset.index.records.prefix(3).map(builder.example))
        examples[1].target = [5, 6]
        let batch = TokenBatch(examples, dataset: dataset)
        let fake = [Float]((0..<(batch.b * batch.t)).map { Float($0) })
        let perCompletion = GRPOTrainer.completionLogProbs([fake], [batch])
        #expect(perCompletion.map(\.count) == examples.map(\.target.count))
        let back = GRPOTrainer.scatter(perCompletion, into: [batch])[0]
        #expect(zip(back, batch.mask).allSatisfy { $1 == 0 ? $0 == 0 : true })
        #expect(zip(back, fake).filter { $0.0 != 0 }.allSatisfy { $0.0 == $0.1 })
    }

    /// A policy-gradient update takes its log-probs from its own forward pass: they must be the
    /// forward-only ones, and with dlogp = -1/N per response token the gradient must be the mean NLL's.
    @Test func theUpdateGivesTheForwardOnlyLogProbsAndTheirGradient() throws {
        let s = try AttackTests.setup()
        var examples = s.examples + s.examples
        for i in examples.indices { examples[i].target = s.answers[i % s.answers.count] }
        let batches = [TokenBatch(Array(examples[0..<4]), dataset: s.dataset), TokenBatch(Array(examples[4...]), dataset: s.dataset)]
        let parallel = ParallelGradients(model: s.model, threads: 2)
        let parameters = s.model.parameters.values
        let total = Float(batches.reduce(0) { $0 + $1.responseTokens })
        var policy = [Float](repeating: 0, count: parameters.count), nll = policy
        let logp = parallel.gradients(parameters: parameters, batches: batches, gradients: &policy) { k, _, _ in
            batches[k].mask.map { -$0 / total }
        }
        #expect(logp == parallel.tokenLogProbs(parameters: parameters, batches: batches))
        _ = parallel.crossEntropy(parameters: parameters, batches: batches, gradients: &nll)
        let scale = nll.map(abs).max() ?? 0
        #expect(scale > 0 && zip(policy, nll).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
        // At a sampling temperature the update scores the completions at it, as the reference does.
        var tempered = [Float](repeating: 0, count: parameters.count)
        let logpAtT = parallel.gradients(parameters: parameters, batches: batches, gradients: &tempered, temperature: 0.5) { k, _, _ in
            batches[k].mask.map { -$0 / total }
        }
        #expect(logpAtT == parallel.tokenLogProbs(parameters: parameters, batches: batches, temperature: 0.5))
        #expect(logpAtT != logp && tempered != policy)
    }

    /// A group's completions share their image: stored once, computed once, the same log-probs and
    /// gradient up to rounding.
    @Test func completionsOfOnePromptShareTheirImage() throws {
        let s = try AttackTests.setup()
        // Two groups of two completions, then the first prompt again alone; the second group's image
        // differs from the first's in one pixel (equal pixels, not equal records, decide).
        var other = s.examples[1]
        other.pixels = Array(s.examples[0].image(in: s.dataset))
        other.pixels?[5] += 0.25
        var examples = [s.examples[0], s.examples[0], other, other, s.examples[0]]
        for i in examples.indices { examples[i].target = s.answers[(i + 1) % s.answers.count] }
        let shared = TokenBatch(examples, dataset: s.dataset, sharingImages: true)
        let unshared = TokenBatch(examples, dataset: s.dataset)
        #expect(shared.imageOf == [0, 0, 1, 1, 2] && unshared.imageOf == nil)
        #expect(shared.images.count == 3 * s.dataset.imagePixels && unshared.images.count == 5 * s.dataset.imagePixels)
        #expect(shared.inputs == unshared.inputs && shared.targets == unshared.targets && shared.mask == unshared.mask)
        let parallel = ParallelGradients(model: s.model, threads: 1)
        let parameters = s.model.parameters.values
        func run(_ batch: TokenBatch) -> ([Float], [Float]) {
            var g = [Float](repeating: 0, count: parameters.count)
            let logp = parallel.gradients(parameters: parameters, batches: [batch], gradients: &g) { _, _, _ in batch.mask.map { -$0 } }
            return (logp[0], g)
        }
        let (logp, g) = run(unshared), (sharedLogp, sharedG) = run(shared)
        let scale = g.map(abs).max() ?? 0
        #expect(scale > 0 && zip(g, sharedG).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        #expect(zip(logp, sharedLogp).allSatisfy { abs($0 - $1) <= 1e-4 })
        #expect(parallel.tokenLogProbs(parameters: parameters, batches: [shared])[0] == sharedLogp)
    }

    @Test func aPromptWithNoRoomToGenerateIsRefusedNamingItsRecord() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 8)
        let tokenizer = Tokenizer(texts: dataset.vocabularyTexts())
        let builder = ExampleBuilder(tokenizer: tokenizer, mode: .cot, records: dataset.index.records.map(\.record))
        let examples = dataset.index.records.map(builder.example)
        let longest = try #require(examples.max { $0.prompt.count < $1.prompt.count })
        try Example.requireRoomToGenerate(examples, maxLen: longest.prompt.count + 1)
        #expect { try Example.requireRoomToGenerate(examples, maxLen: longest.prompt.count) } throws: {
            "\($0)".contains("record \(longest.record.questionID)") && "\($0)".contains("model.max_len")
        }
    }

    @Test func badSettingsAreRefused() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 8)
        var sft = SFTTrainerTests.config()
        sft.epochs = 1
        let start = try SFTTrainer(sft).train(on: dataset).checkpoint
        var single = Self.config(threads: 1)
        single.groupSize = 1
        #expect { try GRPOTrainer(single).train(from: start, on: dataset) } throws: { "\($0)".contains("group_size must be at least 2") }
    }
}

/// AT-GRPO end to end on a tiny model.
struct ATGRPOTrainerTests {
    @Test func logsCleanAndAdversarialAndIsTheSameForAnyThreadCount() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        func config(threads: Int) -> GRPOConfig {
            var config = GRPOTrainerTests.config(threads: threads)
            config.promptsPerStep = 4
            config.adversary = AdversarialTraining(attack: AttackSettings(method: .pgdLinf, eps: 0.06, alpha: 0.02, steps: 2),
                                                   fraction: 0.5, epsWarmupSteps: 3)
            return config
        }
        let one = try GRPOTrainer(config(threads: 1)).train(from: start, on: dataset)
        let two = try GRPOTrainer(config(threads: 2)).train(from: start, on: dataset)
        #expect(try one.checkpoint.encoded() == (try two.checkpoint.encoded()))
        #expect(one.checkpoint.info["pipe.stage"] == "at-grpo")
        let steps = one.curve.compactMap(\.adversarial)
        #expect(steps.count == 3)
        #expect(zip(steps.map(\.eps), [0.02, 0.04, 0.06]).allSatisfy { abs($0 - $1) < 1e-12 })
        for (step, adversarial) in zip(one.curve, steps) {
            // Half the prompts are attacked, so the step's mean reward is the mean of the two halves.
            #expect(abs((adversarial.cleanReward + adversarial.adversarialReward) / 2 - step.rewardMean) < 1e-9)
            #expect(abs((adversarial.cleanAccuracy + adversarial.adversarialAccuracy) / 2 - step.accuracy) < 1e-9)
        }
        #expect(one.curve[0].kl == 0)
        #expect(steps.allSatisfy { $0.nll == nil }, "no NLL term without adversarial_nll")
    }

    @Test func theAdversarialNLLTermIsLoggedAndPullsTowardTheReference() throws {
        let (dataset, _) = try SFTTrainerTests.dataset(images: 24)
        let start = try SFTTrainer(SFTTrainerTests.config()).train(on: dataset).checkpoint
        func run(weight: Double, threads: Int = 1) throws -> GRPOResult {
            var config = GRPOTrainerTests.config(threads: threads)
            config.promptsPerStep = 4
            config.steps = 4
            config.adversary = AdversarialTraining(attack: AttackSettings(method: .pgdLinf, eps: 0.06, alpha: 0.02, steps: 2),
                                                   fraction: 0.5, nllWeight: weight)
            return try GRPOTrainer(config).train(from: start, on: dataset)
        }
        let plain = try run(weight: 0), weighted = try run(weight: 5), weightedTwo = try run(weight: 5, threads: 2)
        #expect(try weighted.checkpoint.encoded() == (try weightedTwo.checkpoint.encoded()), "the same for any thread count")
        let nll = weighted.curve.compactMap { $0.adversarial?.nll }
        #expect(nll.count == 4 && nll.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(weighted.curve.last?.csv.split(separator: ",", omittingEmptySubsequences: false).last.flatMap { Double($0) } == nll.last.map {
            Double(String(format: "%.6f", $0)) })
        // The term descends the reference response's NLL on the attacked images, and changes the policy.
        #expect(nll.last! < nll.first!, "the weighted NLL falls over the run: \(nll)")
        #expect(plain.checkpoint.model.parameters.values != weighted.checkpoint.model.parameters.values)
    }
}
