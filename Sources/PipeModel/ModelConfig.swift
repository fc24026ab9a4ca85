/// The shape of the vision-language policy. Stored in every checkpoint.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Input image side in pixels (square, RGB).
    public var imageSize: Int
    /// Patch side in pixels; `imageSize` must be a multiple.
    public var patch: Int
    /// Model width.
    public var dim: Int
    public var heads: Int
    /// Decoder blocks (over [image tokens; text]).
    public var layers: Int
    /// Vision encoder blocks (over the image tokens alone, bidirectional).
    public var visionLayers: Int
    /// MLP hidden width = dim * mlpRatio.
    public var mlpRatio: Int
    /// Most text tokens (prompt + response) in a sequence.
    public var maxLen: Int
    public var vocabSize: Int

    public init(imageSize: Int = 64, patch: Int = 8, dim: Int = 128, heads: Int = 4, layers: Int = 4, visionLayers: Int = 2,
                mlpRatio: Int = 4, maxLen: Int = 160, vocabSize: Int = 512) {
        self.imageSize = imageSize
        self.patch = patch
        self.dim = dim
        self.heads = heads
        self.layers = layers
        self.visionLayers = visionLayers
        self.mlpRatio = mlpRatio
        self.maxLen = maxLen
        self.vocabSize = vocabSize
    }

    /// Segment ids of text tokens: 0 for any token, 1 to 4 for the tokens of options A to D in the
    /// prompt. Their embeddings let attention find an option's letter from its text in one step.
    public static let segments = 5

    /// Image tokens per image.
    public var patches: Int { (imageSize / patch) * (imageSize / patch) }
    /// Pixels per patch (RGB).
    public var patchPixels: Int { patch * patch * 3 }
    public var hidden: Int { dim * mlpRatio }

    /// Why this configuration cannot be built, or nil.
    public var problem: String? {
        if dim <= 0 || heads <= 0 || layers < 0 || visionLayers < 0 || mlpRatio <= 0 || maxLen <= 1 || vocabSize <= 0 {
            return "dim, heads, mlp_ratio and the vocabulary must be positive, layers non-negative, max_len at least 2"
        }
        if dim % heads != 0 { return "dim (\(dim)) is not divisible by heads (\(heads))" }
        if (dim / heads) % 2 != 0 { return "the head size dim / heads (\(dim / heads)) must be even for rotary positions" }
        if patch <= 0 || imageSize % patch != 0 { return "the image size (\(imageSize)) is not divisible by patch (\(patch))" }
        return nil
    }
}
