import PipeTensor

/// Offsets of one transformer block's tensors in the parameter buffer.
struct BlockParameters {
    var ln1Weight: Int, ln1Bias: Int, qkvWeight: Int, qkvBias: Int, projWeight: Int, projBias: Int
    var ln2Weight: Int, ln2Bias: Int, fcWeight: Int, fcBias: Int, fcProjWeight: Int, fcProjBias: Int

    /// Declares the block's tensors under `prefix` (e.g. `decoder.blocks.0`).
    init(_ parameters: inout ParameterSet, prefix: String, dim d: Int, hidden h: Int) {
        ln1Weight = parameters.add("\(prefix).ln1.weight", [d])
        ln1Bias = parameters.add("\(prefix).ln1.bias", [d])
        qkvWeight = parameters.add("\(prefix).attn.qkv.weight", [3 * d, d])
        qkvBias = parameters.add("\(prefix).attn.qkv.bias", [3 * d])
        projWeight = parameters.add("\(prefix).attn.proj.weight", [d, d])
        projBias = parameters.add("\(prefix).attn.proj.bias", [d])
        ln2Weight = parameters.add("\(prefix).ln2.weight", [d])
        ln2Bias = parameters.add("\(prefix).ln2.bias", [d])
        fcWeight = parameters.add("\(prefix).mlp.fc.weight", [h, d])
        fcBias = parameters.add("\(prefix).mlp.fc.bias", [h])
        fcProjWeight = parameters.add("\(prefix).mlp.proj.weight", [d, h])
        fcProjBias = parameters.add("\(prefix).mlp.proj.bias", [d])
    }
}

/// Where every tensor of the policy lives in its one parameter buffer. Names are the checkpoint's
/// tensor names; matrices are (out, in) as in PyTorch's `nn.Linear`.
struct ParameterLayout {
    var patchWeight: Int, patchBias: Int, visionPosition: Int
    var visionBlocks: [BlockParameters]
    var visionNormWeight: Int, visionNormBias: Int
    var tokenEmbedding: Int, textPosition: Int, segmentEmbedding: Int
    var decoderBlocks: [BlockParameters]
    var normWeight: Int, normBias: Int

    /// Declares every tensor of `config` in `parameters` (zero-filled).
    init(_ config: ModelConfig, into parameters: inout ParameterSet) {
        let d = config.dim
        patchWeight = parameters.add("vision.patch.weight", [d, config.patchPixels])
        patchBias = parameters.add("vision.patch.bias", [d])
        visionPosition = parameters.add("vision.position", [config.patches, d])
        visionBlocks = (0..<config.visionLayers).map {
            BlockParameters(&parameters, prefix: "vision.blocks.\($0)", dim: d, hidden: config.hidden)
        }
        visionNormWeight = parameters.add("vision.norm.weight", [d])
        visionNormBias = parameters.add("vision.norm.bias", [d])
        tokenEmbedding = parameters.add("text.embedding", [config.vocabSize, d])
        textPosition = parameters.add("text.position", [config.maxLen, d])
        segmentEmbedding = parameters.add("text.segment", [ModelConfig.segments, d])
        decoderBlocks = (0..<config.layers).map {
            BlockParameters(&parameters, prefix: "decoder.blocks.\($0)", dim: d, hidden: config.hidden)
        }
        normWeight = parameters.add("decoder.norm.weight", [d])
        normBias = parameters.add("decoder.norm.bias", [d])
    }
}
