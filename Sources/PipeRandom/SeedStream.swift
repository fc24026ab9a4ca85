/// A named random stream of a run: its seed derives from the run's seed, the stream's salt, and
/// the step and item it is drawn for, as `(seed ^ salt) &+ step &* stepStride &+ item`. Each
/// stream keeps the derivation its trainer has always used, so results do not move.
public struct SeedStream: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    let salt: UInt64
    let stepStride: UInt64

    init(_ name: String, salt: UInt64, stepStride: UInt64 = 0) {
        self.name = name
        self.salt = salt
        self.stepStride = stepStride
    }

    public var description: String { name }

    /// The stream's seed for a run seeded `seed`, at `step` and `item` (0 for a stream that has none).
    public func seed(_ seed: UInt64, step: Int = 0, item: Int = 0) -> UInt64 {
        seed ^ salt &+ UInt64(step) &* stepStride &+ UInt64(item)
    }
}

extension SeedStream {
    /// GRPO: the order prompts are drawn in.
    public static let grpoPrompts = SeedStream("grpo.prompts", salt: 0x6a09)
    /// GRPO: a step's rollouts; item `prompt * 97 + completion`.
    public static let grpoRollouts = SeedStream("grpo.rollouts", salt: 0, stepStride: 1_000_003)
    /// AT-GRPO: a step's attacks on its prompts' images.
    public static let grpoAttacks = SeedStream("grpo.attacks", salt: 0xa77ac, stepStride: 7_919)
    /// SFT: the order of the training examples and of their options.
    public static let sftOrder = SeedStream("sft.order", salt: 0x5f7)
    /// Adversarial SFT: a step's attacks on its batch's images.
    public static let sftAttacks = SeedStream("sft.attacks", salt: 0xad5f7, stepStride: 7_919)
    /// SFT with `noise_sigma`: the base of each image's noise (GaussianNoise mixes in step and position).
    public static let sftNoise = SeedStream("sft.noise", salt: 0x6e01_5e)
    /// Evaluation: the misleading cues' draws.
    public static let evaluateCues = SeedStream("evaluate.cues", salt: 0xc0e5)

    /// Every named stream.
    public static let all: [SeedStream] = [grpoPrompts, grpoRollouts, grpoAttacks, sftOrder, sftAttacks, sftNoise, evaluateCues]
}
