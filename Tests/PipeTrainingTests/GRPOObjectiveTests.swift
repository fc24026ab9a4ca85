import Foundation
import PipeModel
import PipeRandom
import Testing
@testable import PipeTraining

/// GRPO's advantages, loss and gradient on hand-computed cases, and Med-R1's rewards.
struct GRPOObjectiveTests {
    /// TRL's `frac_reward_zero_std`: the groups whose rewards are all equal, whatever their value.
    @Test func theShareOfFlatGroups() {
        #expect(GRPOObjective.zeroStdFraction([[1, 1, 1], [0, 1, 0], [2, 2, 2], [0, 0, 2]]) == 0.5)
        #expect(GRPOObjective.zeroStdFraction([[0, 0], [1, 1]]) == 1)
        #expect(GRPOObjective.zeroStdFraction([[0, 2]]) == 0)
        #expect(GRPOObjective.zeroStdFraction([]) == 0)
    }

    @Test func advantagesForEveryScaling() {
        let std = (5.0 / 3).squareRoot()   // Bessel over [1, 2, 3, 4]
        let group = GRPOObjective.advantages([[1, 2, 3, 4]], scaling: .group)[0]
        #expect(zip(group, [-1.5, -0.5, 0.5, 1.5]).allSatisfy { abs($0 - $1 / (std + 1e-4)) < 1e-12 })
        let batch = GRPOObjective.advantages([[0, 2], [1, 1]], scaling: .batch)
        let batchStd = (2.0 / 3).squareRoot()
        #expect(abs(batch[0][0] + 1 / (batchStd + 1e-4)) < 1e-12 && abs(batch[0][1] - 1 / (batchStd + 1e-4)) < 1e-12)
        #expect(batch[1] == [0, 0])
        #expect(GRPOObjective.advantages([[0, 2], [1, 3]], scaling: .none) == [[-1, 1], [-1, 1]])
        for scaling in RewardScaling.allCases {
            #expect(GRPOObjective.advantages([[2, 2, 2], [1, 0]], scaling: scaling)[0] == [0, 0, 0], "equal rewards, no advantage (\(scaling))")
        }
    }

    /// Two completions of 2 and 3 tokens, advantages 1 and 0.5, at the first update (ratio 1, KL 0).
    static func firstStep() -> [CompletionTokens] {
        [CompletionTokens(logp: [-1, -2], oldLogp: [-1, -2], refLogp: [-1, -2], advantage: 1),
         CompletionTokens(logp: [-0.5, -0.1, -3], oldLogp: [-0.5, -0.1, -3], refLogp: [-0.5, -0.1, -3], advantage: 0.5)]
    }

    @Test(arguments: [(GRPOLossType.grpo, -0.75, -0.25), (.bnpo, -0.7, -0.2), (.drGrpo, -0.4375, -0.125), (.dapo, -0.35, -0.1)])
    func aggregationAtTheFirstStep(type: GRPOLossType, loss: Double, firstTokenGradient: Double) {
        var settings = GRPOSettings()
        settings.lossType = type
        settings.maxCompletionLength = 4
        let result = GRPOObjective.loss(Self.firstStep(), settings: settings, itemsInBatch: 10)
        #expect(abs(result.loss - loss) < 1e-12, "\(type): \(result.loss)")
        #expect(abs(result.dlogp[0][0] - firstTokenGradient) < 1e-12)
        #expect(result.meanKL == 0 && result.meanRatio == 1 && result.clipFraction == 0, "ratio 1 and KL 0 at the first step")
    }

    /// TRL's `top_entropy_quantile`: the tokens at or above the (1 - top) quantile of the entropies
    /// (linear interpolation) train their policy term; the KL term trains on every token.
    @Test func onlyTheHighEntropyTokensTrainThePolicyTerm() {
        // Sorted: 0.1 0.3 0.5 0.7 0.9; the 0.6 quantile is at 2.4 -> 0.5 + 0.4 * 0.2 = 0.58.
        let entropies: [[Double]] = [[0.1, 0.5], [0.9, 0.3, 0.7]]
        #expect(GRPOObjective.highEntropyMask(entropies, top: 0.4) == [[false, false], [true, false, true]])
        #expect(GRPOObjective.highEntropyMask(entropies, top: 1) == [[true, true], [true, true, true]])
        #expect(GRPOObjective.highEntropyMask([[0.2, 0.2, 0.2]], top: 0.2) == [[true, true, true]], "ties all pass")
        var settings = GRPOSettings()
        let all = GRPOObjective.loss(Self.firstStep(), settings: settings)
        var masked = Self.firstStep()
        masked[0].trained = [true, false]
        masked[1].trained = [false, false, true]
        let some = GRPOObjective.loss(masked, settings: settings)
        #expect(some.dlogp[0][0] == all.dlogp[0][0] && some.dlogp[1][2] == all.dlogp[1][2], "kept tokens as before")
        #expect(some.dlogp[0][1] == 0 && some.dlogp[1][0] == 0 && some.dlogp[1][1] == 0, "dropped tokens: KL 0 here, so no gradient")
        #expect(abs(some.loss - (all.loss + 0.25 * 1 + 1.0 / 6 * 0.5 * 2)) < 1e-12)
        // Away from the reference a dropped token still gets the KL's gradient.
        settings.beta = 0.04
        let kl = GRPOObjective.loss([CompletionTokens(logp: [-1], oldLogp: [-1], refLogp: [-0.7], advantage: 1, trained: [false])],
                                    settings: settings)
        #expect(abs(kl.dlogp[0][0] - 0.04 * (1 - Foundation.exp(0.3))) < 1e-12)
    }

    @Test func clippingAndKL() {
        var settings = GRPOSettings()
        settings.lossType = .bnpo
        settings.beta = 0
        let up = Foundation.exp(0.5)
        // Ratio e^0.5 > 1.2: clipped for A > 0 (no gradient), not for A < 0 (pessimistic side).
        let positive = GRPOObjective.loss([CompletionTokens(logp: [0.5], oldLogp: [0], refLogp: nil, advantage: 2)], settings: settings)
        #expect(abs(positive.loss + 1.2 * 2) < 1e-12 && positive.dlogp[0][0] == 0 && positive.clipFraction == 1)
        let negative = GRPOObjective.loss([CompletionTokens(logp: [0.5], oldLogp: [0], refLogp: nil, advantage: -2)], settings: settings)
        #expect(abs(negative.loss - up * 2) < 1e-12 && abs(negative.dlogp[0][0] - up * 2) < 1e-12 && negative.clipFraction == 0)
        // Ratio e^-0.5 < 0.8 with A < 0: clipped low.
        let low = GRPOObjective.loss([CompletionTokens(logp: [-0.5], oldLogp: [0], refLogp: nil, advantage: -1)], settings: settings)
        #expect(abs(low.loss - 0.8) < 1e-12 && low.dlogp[0][0] == 0 && low.clipFraction == 1)
        // k3 KL: exp(d) - d - 1 with d = ref - logp = 0.3, weight beta.
        settings.beta = 0.04
        let kl = GRPOObjective.loss([CompletionTokens(logp: [-1], oldLogp: [-1], refLogp: [-0.7], advantage: 0)], settings: settings)
        let k3 = Foundation.exp(0.3) - 0.3 - 1
        #expect(abs(kl.meanKL - k3) < 1e-12 && abs(kl.loss - 0.04 * k3) < 1e-12)
        #expect(abs(kl.dlogp[0][0] - 0.04 * (1 - Foundation.exp(0.3))) < 1e-12)
    }

    @Test(arguments: GRPOLossType.allCases)
    func gradientMatchesFiniteDifferences(type: GRPOLossType) {
        var random = SeededRandom(seed: 4)
        var settings = GRPOSettings()
        settings.lossType = type
        settings.epsilonHigh = 0.28
        let completions = (0..<3).map { i in
            let n = 2 + i
            let old = (0..<n).map { _ in -random.uniform() * 2 }
            return CompletionTokens(logp: old.map { $0 + (random.uniform() - 0.5) * 0.3 }, oldLogp: old,
                                    refLogp: old.map { $0 + (random.uniform() - 0.5) * 0.5 }, advantage: random.uniform() * 2 - 1)
        }
        let analytic = GRPOObjective.loss(completions, settings: settings, itemsInBatch: 20).dlogp
        for (i, completion) in completions.enumerated() {
            for t in completion.logp.indices {
                var plus = completions, minus = completions
                plus[i].logp[t] += 1e-6
                minus[i].logp[t] -= 1e-6
                let numeric = (GRPOObjective.loss(plus, settings: settings, itemsInBatch: 20).loss
                               - GRPOObjective.loss(minus, settings: settings, itemsInBatch: 20).loss) / 2e-6
                #expect(abs(numeric - analytic[i][t]) < 1e-6, "\(type) completion \(i) token \(t): \(numeric) vs \(analytic[i][t])")
            }
        }
    }

    /// The trainer takes each micro-batch's gradient from its own forward pass: the parts, weighed
    /// against the whole batch, must give the whole batch's loss and exactly its gradient.
    @Test(arguments: GRPOLossType.allCases)
    func partsWeighedAgainstTheWholeBatchAddUpToIt(type: GRPOLossType) {
        var random = SeededRandom(seed: 9)
        var settings = GRPOSettings()
        settings.lossType = type
        let completions = (0..<5).map { i in
            let old = (0..<(1 + i % 3)).map { _ in -random.uniform() * 2 }
            return CompletionTokens(logp: old.map { $0 + (random.uniform() - 0.5) * 0.6 }, oldLogp: old,
                                    refLogp: old.map { $0 + (random.uniform() - 0.5) * 0.5 }, advantage: random.uniform() * 2 - 1)
        }
        let whole = GRPOObjective.loss(completions, settings: settings)
        let size = GRPOBatchSize(completions)
        #expect(size == GRPOBatchSize(completions: 5, activeTokens: 1 + 2 + 3 + 1 + 2))
        let parts = [Array(completions[0..<2]), Array(completions[2..<5])].map { GRPOObjective.loss($0, settings: settings, batch: size) }
        #expect(parts.flatMap(\.dlogp) == whole.dlogp, "\(type): the same per-token weights")
        #expect(abs(parts.map(\.loss).reduce(0, +) - whole.loss) < 1e-12)
        // Without the whole batch's size, a part is weighed as a batch of its own.
        #expect(GRPOObjective.loss(Array(completions[0..<2]), settings: settings).dlogp != parts[0].dlogp, "\(type)")
    }

    @Test(arguments: [
        ("<think> it is round </think> <answer> B </answer>", "cot", 1.0, 1.0),
        ("<think> x </think><answer>B</answer>", "cot", 1.0, 1.0),
        ("<answer> B </answer>", "cot", 0.0, 1.0),                            // no think
        ("<think> x </think> <answer> B </answer> done", "cot", 0.0, 1.0),    // text after the tags
        ("Sure. <think> x </think> <answer> B </answer>", "cot", 0.0, 1.0),   // text before
        ("<think> x </think> <answer> b </answer>", "cot", 1.0, 0.0),         // lower case
        ("<think> x </think> <answer> B C </answer>", "cot", 1.0, 0.0),       // two answers in one tag
        ("<think> x </think> <answer> C </answer> <answer> B </answer>", "cot", 1.0, 0.0),  // the first tag counts
        ("B", "cot", 0.0, 0.0),                                                // missing tags
        ("<think> x </think> <answer> A </answer>", "cot", 1.0, 0.0),         // wrong letter
        ("<answer> B </answer>", "instruct", 1.0, 1.0),
        (" <answer>B</answer>", "instruct", 1.0, 1.0),
        ("<think> x </think> <answer> B </answer>", "instruct", 0.0, 1.0),
    ] as [(String, String, Double, Double)])
    func rewards(completion: String, mode: String, format: Double, accuracy: Double) throws {
        let m = try #require(ReasoningMode(rawValue: mode))
        #expect(Rewards.format(completion, mode: m) == format)
        #expect(Rewards.accuracy(completion, truth: "B") == accuracy)
        #expect(Rewards.total(completion, truth: "B", mode: m) == format + accuracy)
    }
}
