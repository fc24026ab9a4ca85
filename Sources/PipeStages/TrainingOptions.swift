import PipeData
import PipeModel
import PipeRecipe
import PipeTraining

extension ReasoningMode: OptionChoice {}
extension GRPOLossType: OptionChoice {}
extension RewardScaling: OptionChoice {}
extension AttackSettings.Method: OptionChoice {}
extension Split: OptionChoice {}

/// The options groups the training and evaluation kinds share.
enum TrainingOptions {
    /// The `reasoning:` option of the kinds that read a policy: `auto` follows its checkpoint.
    static let followedReasoning = OptionKey<String>(
        "reasoning", choices: ["auto"] + ReasoningMode.allCases.map(\.rawValue), default: "auto",
        help: "prompt format; auto: the one the policy was trained with")

    /// The `model:` group: the policy's shape.
    enum Model {
        static let dim = OptionKey<Int>("dim", 8...4096, default: 128, help: "model width")
        static let heads = OptionKey<Int>("heads", 1...64, default: 4, help: "attention heads (dim must be divisible by it)")
        static let layers = OptionKey<Int>("layers", 1...64, default: 4, help: "decoder blocks")
        static let visionLayers = OptionKey<Int>("vision_layers", 0...64, default: 2, help: "vision encoder blocks")
        static let patch = OptionKey<Int>("patch", 1...256, default: 8, help: "patch side in pixels (the image size must be divisible by it)")
        static let mlpRatio = OptionKey<Int>("mlp_ratio", 1...16, default: 4, help: "MLP width over model width")
        static let maxLen = OptionKey<Int>("max_len", 8...4096, default: 160, help: "most text tokens per sequence (prompt + response)")
        static let group = OptionKey<OptionValues>("model", group: [dim, heads, layers, visionLayers, patch, mlpRatio, maxLen],
                                                   help: "the policy's shape")

        /// The shape the options give (image and vocabulary sizes come from the dataset at run time).
        static func config(_ o: OptionValues) throws -> ModelConfig {
            var model = ModelConfig()
            model.dim = try o[dim]
            model.heads = try o[heads]
            model.layers = try o[layers]
            model.visionLayers = try o[visionLayers]
            model.patch = try o[patch]
            model.mlpRatio = try o[mlpRatio]
            model.maxLen = try o[maxLen]
            return model
        }
    }

    /// The PGD attack a training kind crafts against its current weights.
    enum Attack {
        enum Norm: String, CaseIterable, OptionChoice { case linf, l2 }

        static let norm = OptionKey<Norm>("norm", default: .linf, help: "PGD in the L-infinity or the L2 ball")
        static let eps = OptionKey<Double?>("eps", 0...1000, help: "the ball's radius on [0, 1] pixels (default 8/255 for linf, 1 for l2)")
        static let alpha = OptionKey<Double?>("alpha", 0...1000, help: "step size (default 2/255 for linf, 0.2 for l2)")
        static let steps = OptionKey<Int>("steps", 1...1000, default: 10, help: "PGD steps")
        static let randomStart = OptionKey<Bool>("random_start", default: true, help: "start at a random point of the ball")
        static let keys: [any OptionDeclaration] = [norm, eps, alpha, steps, randomStart]

        /// The attack the options describe; eps and alpha left `null` are torchattacks' for the norm.
        static func settings(_ o: OptionValues) throws -> AttackSettings {
            var settings = AttackSettings.defaults(try o[norm] == .l2 ? .pgdL2 : .pgdLinf)
            settings.eps = try o[eps] ?? settings.eps
            settings.alpha = try o[alpha] ?? settings.alpha
            settings.steps = try o[steps]
            settings.randomStart = try o[randomStart]
            return settings
        }
    }

    /// The `eval:` group: greedy validation after training.
    enum Eval {
        static let limit = OptionKey<Int>("limit", 0...10_000_000, default: 0, help: "validation records to score (0: all)")
        static let maxNewTokens = OptionKey<Int>("max_new_tokens", 1...4096, default: 96, help: "tokens to generate per answer")
        static let group = OptionKey<OptionValues>("eval", group: [limit, maxNewTokens], help: "validation by greedy decoding")
    }
}
