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

    /// A freshly initialized model: each matrix N(0, 1/fan_in) (its input width; for embeddings the
    /// model width), residual projections further scaled by 1/sqrt(2 * blocks) (GPT-2), norms at 1,
    /// biases at 0. Scaling by width, not GPT-2's fixed 0.02, matters for small models: at width 128
    /// the fixed scale leaves attention near uniform for thousands of steps before content lookups
    /// (which option holds the stated answer) are learned.
    public init(config: ModelConfig, seed: UInt64) throws {
        if let problem = config.problem { throw ModelError("model config: \(problem)") }
        self.config = config
        var parameters = ParameterSet()
        layout = ParameterLayout(config, into: &parameters)
        rotary = RotaryEmbedding(headSize: config.dim / config.heads, positions: config.patches + config.maxLen)
        var random = SeededRandom(seed: seed)
        let residualScale = 1 / (2.0 * Double(max(1, config.layers + config.visionLayers))).squareRoot()
        for tensor in parameters.tensors {
            let name = tensor.name
            // Linear weights are [out, in]; embedding tables are [rows, dim].
            let fanIn = Double(tensor.shape.last ?? config.dim)
            let std = 1 / fanIn.squareRoot()
            if name.hasSuffix("norm.weight") || name.hasSuffix("ln1.weight") || name.hasSuffix("ln2.weight") {
                parameters.fill(name, 1)
            } else if name.hasSuffix(".bias") {
                continue
            } else if name.hasSuffix("attn.proj.weight") || name.hasSuffix("mlp.proj.weight") {
                parameters.fillNormal(name, std: std * residualScale, random: &random)
            } else {
                parameters.fillNormal(name, std: std, random: &random)
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
