import PipeTensor

/// The buffers of one forward/backward pass of a model. Each training worker owns one; the
/// parameters are shared read-only. `forward` keeps what `backward` needs.
public final class ModelWorkspace {
    public let config: ModelConfig
    let layout: ParameterLayout
    private let forwardArena = FloatArena()
    private let backwardArena = FloatArena()
    private var state: ForwardState?
    let rotary: RotaryEmbedding
    /// Stands in for the tokens of a vision-only pass.
    private static let noTokens = UnsafePointer(UnsafeMutablePointer<Int32>.allocate(capacity: 1))

    public init(_ model: VisionLanguageModel) {
        config = model.config
        layout = model.layout
        rotary = model.rotary
    }

    /// The activations of the last forward pass.
    struct ForwardState {
        var b: Int, t: Int, s: Int
        /// Images encoded: b, or fewer when sequences share images.
        var images: Int
        /// The decoder's rows: per sequence [image; text], or each image once and then the text rows.
        var rows: BlockRows
        var pixels: UnsafePointer<Float>
        var tokens: UnsafePointer<Int32>
        var segments: UnsafePointer<Int32>?
        var patches: UnsafeMutablePointer<Float>      // (images * P, patchPixels), normalized to [-1, 1]
        var visionInput: UnsafeMutablePointer<Float>  // (images * P, C)
        var vision: [BlockActivations]
        var visionNorm: UnsafeMutablePointer<Float>   // (images * P, C)
        var visionMean: UnsafeMutablePointer<Float>, visionRstd: UnsafeMutablePointer<Float>
        var decoderInput: UnsafeMutablePointer<Float> // (rows, C): B * S rows, S = P + T, when no images are shared
        var decoder: [BlockActivations]
        var norm: UnsafeMutablePointer<Float>         // (rows, C)
        var normMean: UnsafeMutablePointer<Float>, normRstd: UnsafeMutablePointer<Float>
        var text: UnsafeMutablePointer<Float>         // (B * T, C): the normed text rows
        var logits: UnsafeMutablePointer<Float>       // (B * T, V)

        /// The decoder row of image `image`'s first token.
        func imageRow(_ image: Int) -> Int {
            if case let .sharedPrefix(_, prefix, _, _) = rows { return image * prefix }
            return image * s
        }

        /// The decoder row of sequence `seq`'s first text token.
        func textRow(_ seq: Int) -> Int {
            if case let .sharedPrefix(images, prefix, _, t) = rows { return images * prefix + seq * t }
            return seq * s + (s - t)
        }
    }

    /// Runs the model on `b` images (B, H, W, 3) in [0, 1] and token rows (B, T); returns the
    /// logits (B, T, V) at the text positions, valid until the next call. `t` must be at most maxLen.
    /// With `imageOf`, sequences share images: `images` holds each distinct image once and sequence
    /// s reads image imageOf[s] (the G completions of a GRPO group), whose encoder pass and decoder
    /// image rows, the same for every sequence of that image, are computed once. The logits and
    /// gradients are those of the unshared pass up to rounding.
    public func forward(parameters p: UnsafePointer<Float>, images: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
                        segments: UnsafePointer<Int32>? = nil, b: Int, t: Int, imageOf: [Int]? = nil) -> UnsafePointer<Float> {
        precondition(t >= 1 && t <= config.maxLen, "sequence longer than max_len")
        precondition(imageOf.map { $0.count == b && $0.allSatisfy { $0 >= 0 } } ?? true, "one image index per sequence")
        let cfg = config, c = cfg.dim, np = cfg.patches, s = np + t, hidden = cfg.hidden
        let encoded = imageOf.map { ($0.max() ?? -1) + 1 } ?? b
        let rows = imageOf.map { BlockRows.sharedPrefix(images: encoded, prefix: np, imageOf: $0, t: t) } ?? .sequences(b: b, t: s, prefix: np)
        let n = rows.count
        let st = forwardArena.arrange { arena in
            ForwardState(b: b, t: t, s: s, images: encoded, rows: rows, pixels: images, tokens: tokens, segments: segments,
                         patches: arena.take(encoded * np * cfg.patchPixels), visionInput: arena.take(encoded * np * c),
                         vision: (0..<cfg.visionLayers).map { _ in BlockActivations(arena, b: encoded, t: np, c: c, hidden: hidden, heads: cfg.heads) },
                         visionNorm: arena.take(encoded * np * c), visionMean: arena.take(encoded * np), visionRstd: arena.take(encoded * np),
                         decoderInput: arena.take(n * c),
                         decoder: (0..<cfg.layers).map { _ in BlockActivations(arena, rows: rows, c: c, hidden: hidden, heads: cfg.heads) },
                         norm: arena.take(n * c), normMean: arena.take(n), normRstd: arena.take(n),
                         text: arena.take(b * t * c), logits: arena.take(b * t * cfg.vocabSize))
        }
        state = st
        encode(p, images: images, b: encoded, into: st)
        // The image tokens, then the text tokens, where `rows` puts them.
        for image in 0..<encoded {
            (st.decoderInput + st.imageRow(image) * c).update(from: st.visionNorm + image * np * c, count: np * c)
        }
        for seq in 0..<b {
            let row = st.decoderInput + st.textRow(seq) * c
            Embedding.forward(row, ids: tokens + seq * t, table: p + layout.tokenEmbedding, n: t, c: c)
            Elementwise.accumulate(row, p + layout.textPosition, count: t * c)
            Self.addSegments(row, segments: segments.map { $0 + seq * t }, table: p + layout.segmentEmbedding, t: t, c: c)
        }
        var x = UnsafePointer(st.decoderInput)
        for (l, w) in layout.decoderBlocks.enumerated() {
            TransformerBlock(w: w, rows: rows, c: c, hidden: hidden, heads: cfg.heads, rotary: rotary).forward(p, input: x, acts: st.decoder[l])
            x = UnsafePointer(st.decoder[l].output)
        }
        LayerNorm.forward(st.norm, mean: st.normMean, rstd: st.normRstd, x, weight: p + layout.normWeight, bias: p + layout.normBias,
                          n: n, c: c)
        for seq in 0..<b { (st.text + seq * t * c).update(from: st.norm + st.textRow(seq) * c, count: t * c) }
        // logits (B*T, V) = text . embedding^T
        BLAS.gemm(transB: true, m: b * t, n: cfg.vocabSize, k: c, a: st.text, lda: c, b: p + layout.tokenEmbedding, ldb: c,
                  c: st.logits, ldc: cfg.vocabSize)
        return UnsafePointer(st.logits)
    }

    /// The vision encoder: patches, patch embedding + positions, vision blocks, norm -> st.visionNorm.
    private func encode(_ p: UnsafePointer<Float>, images: UnsafePointer<Float>, b: Int, into st: ForwardState) {
        let cfg = config, c = cfg.dim, np = cfg.patches
        Patches.extract(st.patches, images: images, b: b, size: cfg.imageSize, patch: cfg.patch)
        Linear.forward(st.visionInput, st.patches, weight: p + layout.patchWeight, bias: p + layout.patchBias,
                       n: b * np, c: cfg.patchPixels, oc: c)
        for image in 0..<b { Elementwise.accumulate(st.visionInput + image * np * c, p + layout.visionPosition, count: np * c) }
        var x = UnsafePointer(st.visionInput)
        for (l, w) in layout.visionBlocks.enumerated() {
            TransformerBlock(w: w, b: b, t: np, c: c, hidden: cfg.hidden, heads: cfg.heads, prefix: np, rotary: rotary).forward(p, input: x, acts: st.vision[l])
            x = UnsafePointer(st.vision[l].output)
        }
        LayerNorm.forward(st.visionNorm, mean: st.visionMean, rstd: st.visionRstd, x, weight: p + layout.visionNormWeight,
                          bias: p + layout.visionNormBias, n: b * np, c: c)
    }

    /// The image tokens (B, P, C) of `b` images, valid until the next call.
    public func encodeImages(parameters p: UnsafePointer<Float>, images: UnsafePointer<Float>, b: Int) -> UnsafePointer<Float> {
        let cfg = config, c = cfg.dim, np = cfg.patches
        let st = forwardArena.arrange { arena in
            ForwardState(b: b, t: 0, s: np, images: b, rows: .sequences(b: b, t: np, prefix: np), pixels: images, tokens: Self.noTokens, segments: nil,
                         patches: arena.take(b * np * cfg.patchPixels), visionInput: arena.take(b * np * c),
                         vision: (0..<cfg.visionLayers).map { _ in BlockActivations(arena, b: b, t: np, c: c, hidden: cfg.hidden, heads: cfg.heads) },
                         visionNorm: arena.take(b * np * c), visionMean: arena.take(b * np), visionRstd: arena.take(b * np),
                         decoderInput: arena.take(0), decoder: [], norm: arena.take(0), normMean: arena.take(0), normRstd: arena.take(0),
                         text: arena.take(0), logits: arena.take(0))
        }
        state = nil
        encode(p, images: images, b: b, into: st)
        return UnsafePointer(st.visionNorm)
    }

    /// rows (T, C) += segment embedding of each row (segment 0 when `segments` is nil).
    static func addSegments(_ rows: UnsafeMutablePointer<Float>, segments: UnsafePointer<Int32>?, table: UnsafePointer<Float>, t: Int, c: Int) {
        for j in 0..<t {
            let segment = segments.map { Int($0[j]) } ?? 0
            precondition(segment >= 0 && segment < ModelConfig.segments, "segment id out of range")
            Elementwise.accumulate(rows + j * c, table + segment * c, count: c)
        }
    }

    /// Backpropagates dlogits (B, T, V) of the last forward pass: accumulates parameter gradients
    /// into `g` and, when given, writes the gradient with respect to the input pixels (B, H, W, 3;
    /// one per distinct image when the forward pass shared images).
    /// With `parameterGradients` false the weight gradients are skipped (about a third of the work)
    /// and `g` holds only scratch: for an attack, which needs the pixels' gradient alone.
    public func backward(parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>, dlogits: UnsafePointer<Float>,
                         imageGradient: UnsafeMutablePointer<Float>? = nil, parameterGradients: Bool = true) {
        guard let st = state else { preconditionFailure("backward before forward") }
        let cfg = config, c = cfg.dim, np = cfg.patches, b = st.b, t = st.t, hidden = cfg.hidden
        let n = st.rows.count, encoded = st.images
        let scratch = backwardArena.arrange { arena in
            (dtext: arena.take(b * t * c), dnorm: arena.take(n * c), da: arena.take(n * c), db: arena.take(n * c),
             decoderBlocks: BlockGradients(arena, rows: st.rows, c: c, hidden: hidden),
             dvisionNorm: arena.take(encoded * np * c), dva: arena.take(encoded * np * c), dvb: arena.take(encoded * np * c),
             visionBlocks: BlockGradients(arena, b: encoded, t: np, c: c, hidden: hidden),
             dpatches: arena.take(encoded * np * cfg.patchPixels))
        }
        // Head (tied to the embedding).
        BLAS.gemm(m: b * t, n: c, k: cfg.vocabSize, a: dlogits, lda: cfg.vocabSize, b: p + layout.tokenEmbedding, ldb: c,
                  c: scratch.dtext, ldc: c)
        if parameterGradients {
            BLAS.gemm(transA: true, m: cfg.vocabSize, n: c, k: b * t, a: dlogits, lda: cfg.vocabSize, b: st.text, ldb: c, beta: 1,
                      c: g + layout.tokenEmbedding, ldc: c)
        }
        scratch.dnorm.update(repeating: 0, count: n * c)
        for seq in 0..<b { (scratch.dnorm + st.textRow(seq) * c).update(from: scratch.dtext + seq * t * c, count: t * c) }
        let lastDecoder = st.decoder.last?.output ?? st.decoderInput
        scratch.da.update(repeating: 0, count: n * c)
        LayerNorm.backward(dinp: scratch.da, dweight: g + layout.normWeight, dbias: g + layout.normBias, dout: scratch.dnorm,
                           inp: lastDecoder, weight: p + layout.normWeight, mean: st.normMean, rstd: st.normRstd, n: n, c: c)
        var dout = scratch.da, din = scratch.db
        for l in stride(from: cfg.layers - 1, through: 0, by: -1) {
            let input = l == 0 ? st.decoderInput : st.decoder[l - 1].output
            TransformerBlock(w: layout.decoderBlocks[l], rows: st.rows, c: c, hidden: hidden, heads: cfg.heads, rotary: rotary)
                .backward(p, g, input: input, acts: st.decoder[l], doutput: dout, dinput: din, scratch: scratch.decoderBlocks,
                          weights: parameterGradients)
            swap(&dout, &din)
        }
        // dout is now d(decoder input): text rows to the embeddings, image rows to the vision encoder.
        for image in 0..<encoded {
            (scratch.dvisionNorm + image * np * c).update(from: dout + st.imageRow(image) * c, count: np * c)
        }
        for seq in 0..<b {
            let row = dout + st.textRow(seq) * c
            Embedding.backward(dtable: g + layout.tokenEmbedding, dout: row, ids: st.tokens + seq * t, n: t, c: c)
            Elementwise.accumulate(g + layout.textPosition, row, count: t * c)
            for j in 0..<t {
                let segment = st.segments.map { Int($0[seq * t + j]) } ?? 0
                Elementwise.accumulate(g + layout.segmentEmbedding + segment * c, row + j * c, count: c)
            }
        }
        let lastVision = st.vision.last?.output ?? st.visionInput
        scratch.dva.update(repeating: 0, count: encoded * np * c)
        LayerNorm.backward(dinp: scratch.dva, dweight: g + layout.visionNormWeight, dbias: g + layout.visionNormBias,
                           dout: scratch.dvisionNorm, inp: lastVision, weight: p + layout.visionNormWeight,
                           mean: st.visionMean, rstd: st.visionRstd, n: encoded * np, c: c)
        var vout = scratch.dva, vin = scratch.dvb
        for l in stride(from: cfg.visionLayers - 1, through: 0, by: -1) {
            let input = l == 0 ? st.visionInput : st.vision[l - 1].output
            TransformerBlock(w: layout.visionBlocks[l], b: encoded, t: np, c: c, hidden: hidden, heads: cfg.heads, prefix: np, rotary: rotary)
                .backward(p, g, input: input, acts: st.vision[l], doutput: vout, dinput: vin, scratch: scratch.visionBlocks,
                          weights: parameterGradients)
            swap(&vout, &vin)
        }
        for image in 0..<encoded { Elementwise.accumulate(g + layout.visionPosition, vout + image * np * c, count: np * c) }
        if let imageGradient {
            scratch.dpatches.update(repeating: 0, count: encoded * np * cfg.patchPixels)
            Linear.backward(dinp: scratch.dpatches, dweight: parameterGradients ? g + layout.patchWeight : nil,
                            dbias: parameterGradients ? g + layout.patchBias : nil, dout: vout,
                            inp: st.patches, weight: p + layout.patchWeight, n: encoded * np, c: cfg.patchPixels, oc: c)
            Patches.scatter(imageGradient, patches: scratch.dpatches, b: encoded, size: cfg.imageSize, patch: cfg.patch)
        } else {
            Linear.backward(dinp: nil, dweight: g + layout.patchWeight, dbias: g + layout.patchBias, dout: vout,
                            inp: st.patches, weight: p + layout.patchWeight, n: encoded * np, c: cfg.patchPixels, oc: c)
        }
    }
}

/// Images (B, H, W, 3) in [0, 1] <-> patch rows (B * P, patch * patch * 3) normalized to [-1, 1].
enum Patches {
    static func extract(_ out: UnsafeMutablePointer<Float>, images: UnsafePointer<Float>, b: Int, size: Int, patch: Int) {
        let perSide = size / patch, row = patch * patch * 3
        var o = out
        for image in 0..<b {
            let base = images + image * size * size * 3
            for py in 0..<perSide {
                for px in 0..<perSide {
                    for dy in 0..<patch {
                        let src = base + ((py * patch + dy) * size + px * patch) * 3
                        for k in 0..<(patch * 3) { o[dy * patch * 3 + k] = 2 * src[k] - 1 }
                    }
                    o += row
                }
            }
        }
    }

    /// Writes the pixel gradient from the patch-row gradient (chain rule through x -> 2x - 1).
    static func scatter(_ out: UnsafeMutablePointer<Float>, patches: UnsafePointer<Float>, b: Int, size: Int, patch: Int) {
        let perSide = size / patch, row = patch * patch * 3
        var src = patches
        for image in 0..<b {
            let base = out + image * size * size * 3
            for py in 0..<perSide {
                for px in 0..<perSide {
                    for dy in 0..<patch {
                        let dst = base + ((py * patch + dy) * size + px * patch) * 3
                        for k in 0..<(patch * 3) { dst[k] = 2 * src[dy * patch * 3 + k] }
                    }
                    src += row
                }
            }
        }
    }
}
