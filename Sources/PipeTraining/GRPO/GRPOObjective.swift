import Foundation

/// How GRPO's per-token losses are aggregated (TRL's `loss_type`).
public enum GRPOLossType: String, CaseIterable, Sendable {
    /// Mean over sequences of each sequence's token mean.
    case grpo
    /// Sum over the batch's active tokens / their count.
    case bnpo
    /// Sum / (sequences * max completion length) (Dr. GRPO).
    case drGrpo = "dr_grpo"
    /// Sum / active tokens of the whole accumulated batch (DAPO).
    case dapo
}

/// How rewards are scaled into advantages (TRL's `scale_rewards`).
public enum RewardScaling: String, CaseIterable, Sendable {
    /// (r - group mean) / (group std + 1e-4), std with Bessel's correction.
    case group
    /// (r - group mean) / (std of the whole batch + 1e-4).
    case batch
    /// r - group mean.
    case none
}

/// The GRPO objective's settings.
public struct GRPOSettings: Sendable, Equatable {
    public var epsilonLow: Double = 0.2
    public var epsilonHigh: Double = 0.2
    /// Weight of the k3 KL estimate to the frozen reference (0: no reference needed).
    public var beta: Double = 0.04
    public var lossType = GRPOLossType.grpo
    public var scaleRewards = RewardScaling.group
    /// The completion length limit (for `dr_grpo`).
    public var maxCompletionLength = 64
    /// TRL's `top_entropy_quantile`: the share of completion tokens, those of highest entropy, whose
    /// policy term is trained (the KL term keeps every token); 1: all of them.
    public var topEntropyQuantile = 1.0

    public init() {}
}

/// One sampled completion's per-token data.
public struct CompletionTokens: Sendable {
    /// log p of each completion token under the current policy.
    public var logp: [Double]
    /// ... under the policy that sampled it (equal to `logp` on the first update of a batch).
    public var oldLogp: [Double]
    /// ... under the frozen reference (nil when beta is 0).
    public var refLogp: [Double]?
    public var advantage: Double
    /// Per token, whether its policy term is trained (`top_entropy_quantile`); nil: every token.
    public var trained: [Bool]?

    public init(logp: [Double], oldLogp: [Double], refLogp: [Double]?, advantage: Double, trained: [Bool]? = nil) {
        self.logp = logp
        self.oldLogp = oldLogp
        self.refLogp = refLogp
        self.advantage = advantage
        self.trained = trained
    }
}

/// The loss, its gradient with respect to each token's log-probability, and what GRPO logs.
public struct GRPOLoss: Sendable {
    public var loss: Double
    /// d loss / d logp for each token of each completion.
    public var dlogp: [[Double]]
    /// Mean k3 KL over active tokens (0 without a reference).
    public var meanKL: Double
    /// Fraction of active tokens whose ratio was clipped (TRL's region: low with A < 0, high with A > 0).
    public var clipFraction: Double
    public var meanRatio: Double
}

/// The batch a part of it is weighed against: `GRPOObjective.loss` on one micro-batch of
/// completions with the whole batch's size gives that micro-batch's share of the whole loss.
public struct GRPOBatchSize: Sendable, Equatable {
    public var completions: Int
    /// Completion tokens in the batch.
    public var activeTokens: Int

    public init(completions: Int, activeTokens: Int) {
        self.completions = completions
        self.activeTokens = activeTokens
    }

    public init(_ completions: [CompletionTokens]) {
        self.init(completions: completions.count, activeTokens: completions.reduce(0) { $0 + $1.logp.count })
    }
}

/// GRPO as TRL implements it (`../shared/ML.md`). Groups are explicit: rewards come as one array
/// per prompt, so advantages can never mix completions of different prompts.
public enum GRPOObjective {
    /// Advantages, in the shape of `rewardsByPrompt`.
    public static func advantages(_ rewardsByPrompt: [[Double]], scaling: RewardScaling) -> [[Double]] {
        let all = rewardsByPrompt.flatMap { $0 }
        let batchStd = standardDeviation(all)
        return rewardsByPrompt.map { group in
            let mean = group.reduce(0, +) / Double(max(1, group.count))
            switch scaling {
            case .group:
                let std = standardDeviation(group)
                return group.map { ($0 - mean) / (std + 1e-4) }
            case .batch:
                return group.map { ($0 - mean) / (batchStd + 1e-4) }
            case .none:
                return group.map { $0 - mean }
            }
        }
    }

    /// Which tokens of `entropies` (one array per completion) are at or above the `1 - top`
    /// quantile of all of them (torch.quantile's linear interpolation), as TRL's
    /// `get_high_entropy_mask` picks them: with `top` 0.2, the most uncertain fifth. `top` 1: all.
    public static func highEntropyMask(_ entropies: [[Double]], top: Double) -> [[Bool]] {
        let all = entropies.flatMap { $0 }.sorted()
        guard top < 1, !all.isEmpty else { return entropies.map { $0.map { _ in true } } }
        let position = (1 - max(0, top)) * Double(all.count - 1)
        let below = Int(position.rounded(.down)), above = min(all.count - 1, below + 1)
        let threshold = all[below] + (all[above] - all[below]) * (position - Double(below))
        return entropies.map { $0.map { $0 >= threshold } }
    }

    /// The share of groups whose rewards are all equal (TRL's `frac_reward_zero_std`): their
    /// advantages are zero, so they give the policy term nothing to learn from.
    public static func zeroStdFraction(_ rewardsByPrompt: [[Double]]) -> Double {
        guard !rewardsByPrompt.isEmpty else { return 0 }
        let flat = rewardsByPrompt.filter { group in group.allSatisfy { $0 == group.first } }.count
        return Double(flat) / Double(rewardsByPrompt.count)
    }

    /// Standard deviation with Bessel's correction (torch's default); 0 for fewer than two values.
    static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
    }

    /// The loss over `completions`; `itemsInBatch` is the active-token count of the whole
    /// accumulated batch (`dapo` only; defaults to the batch's). With `batch`, `completions` are a
    /// part of that batch and the result is their share: the per-token weights divide by the whole
    /// batch's completions and tokens, so the parts' losses and gradients add up to the whole's
    /// (`meanKL`, `clipFraction` and `meanRatio` stay means over the part's own tokens).
    public static func loss(_ completions: [CompletionTokens], settings: GRPOSettings, itemsInBatch: Int? = nil,
                            batch: GRPOBatchSize? = nil) -> GRPOLoss {
        let own = GRPOBatchSize(completions)
        let whole = batch ?? own
        let active = whole.activeTokens
        var total = 0.0, kl = 0.0, clipped = 0, ratios = 0.0
        var dlogp: [[Double]] = []
        for completion in completions {
            let n = completion.logp.count
            // The weight of one token's loss in the aggregate.
            let weight: Double
            switch settings.lossType {
            case .grpo: weight = 1 / Double(max(1, n)) / Double(max(1, whole.completions))
            case .bnpo: weight = 1 / Double(max(1, active))
            case .drGrpo: weight = 1 / Double(max(1, whole.completions * settings.maxCompletionLength))
            case .dapo: weight = 1 / Double(max(1, itemsInBatch ?? active))
            }
            let a = completion.advantage
            var grads = [Double](repeating: 0, count: n)
            for t in 0..<n {
                let ratio = Foundation.exp(completion.logp[t] - completion.oldLogp[t])
                let clippedRatio = min(max(ratio, 1 - settings.epsilonLow), 1 + settings.epsilonHigh)
                let unclippedTerm = ratio * a, clippedTerm = clippedRatio * a
                let kept = completion.trained?[t] ?? true
                var tokenLoss = kept ? -min(unclippedTerm, clippedTerm) : 0
                // The gradient flows through the unclipped term when it is the one taken (ties included).
                var grad = kept && unclippedTerm <= clippedTerm ? -ratio * a : 0
                if (ratio < 1 - settings.epsilonLow && a < 0) || (ratio > 1 + settings.epsilonHigh && a > 0) { clipped += 1 }
                ratios += ratio
                if settings.beta != 0, let ref = completion.refLogp {
                    let d = ref[t] - completion.logp[t]
                    let k3 = Foundation.exp(d) - d - 1
                    tokenLoss += settings.beta * k3
                    grad += settings.beta * (1 - Foundation.exp(d))
                    kl += k3
                }
                total += weight * tokenLoss
                grads[t] = weight * grad
            }
            dlogp.append(grads)
        }
        let count = Double(max(1, own.activeTokens))
        return GRPOLoss(loss: total, dlogp: dlogp, meanKL: kl / count, clipFraction: Double(clipped) / count, meanRatio: ratios / count)
    }
}
