import PipeRandom
import PipeTensor

/// A problem with a model's configuration or inputs.
public struct ModelError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The policy: a ViT-style patch encoder (patch embedding, positions, `visionLayers` bidirectional
/// blocks) and a causal decoder over [image tokens; text tokens] (`layers` pre-norm blocks whose
/// attention sees the image tokens bidirectionally and the text causally), the output head tied to
/// the token embedding. All parameters live in one buffer.
public struct VisionLanguageModel: Sendable {
    public let config: ModelConfig
    let layout: ParameterLayout
    public var parameters: ParameterSet
    /// Rotary position tables for every position of a sequence (image tokens, then text).
    let rotary: RotaryEmbedding

    /// A freshly initialized model: weights N(0, 0.02), residual projections scaled by
    /// 1/sqrt(2 * blocks) (GPT-2), norms at 1, biases at 0.
    public init(config: ModelConfig, seed: UInt64) throws {
        if let problem = config.problem { throw ModelError("model config: \(problem)") }
        self.config = config
        var parameters = ParameterSet()
        layout = ParameterLayout(config, into: &parameters)
        rotary = RotaryEmbedding(headSize: config.dim / config.heads, positions: config.patches + config.maxLen)
        var random = SeededRandom(seed: seed)
        let residualStd = 0.02 / (2.0 * Double(max(1, config.layers + config.visionLayers))).squareRoot()
        for tensor in parameters.tensors {
            let name = tensor.name
            if name.hasSuffix("norm.weight") || name.hasSuffix("ln1.weight") || name.hasSuffix("ln2.weight") {
                parameters.fill(name, 1)
            } else if name.hasSuffix(".bias") {
                continue
            } else if name.hasSuffix("attn.proj.weight") || name.hasSuffix("mlp.proj.weight") {
                parameters.fillNormal(name, std: residualStd, random: &random)
            } else {
                parameters.fillNormal(name, std: 0.02, random: &random)
            }
        }
        self.parameters = parameters
    }

    /// A model with the given parameter values (from a checkpoint); the names and shapes must match.
    public init(config: ModelConfig, values: [Float]) throws {
        if let problem = config.problem { throw ModelError("model config: \(problem)") }
        self.config = config
        var parameters = ParameterSet()
        layout = ParameterLayout(config, into: &parameters)
        rotary = RotaryEmbedding(headSize: config.dim / config.heads, positions: config.patches + config.maxLen)
        guard values.count == parameters.count else {
            throw ModelError("the checkpoint holds \(values.count) parameters; this config needs \(parameters.count)")
        }
        parameters.values = values
        self.parameters = parameters
    }
}
