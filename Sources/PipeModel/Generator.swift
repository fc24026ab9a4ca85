import Foundation
import PipeRandom
import PipeTensor

/// How to pick each next token.
public struct Sampling: Sendable, Equatable {
    /// 0 decodes greedily (the most likely token, lowest id on ties).
    public var temperature: Float
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Float
    /// Most tokens to generate per sequence (also bounded by the model's max_len).
    public var maxNewTokens: Int

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, maxNewTokens: Int = 64) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.maxNewTokens = maxNewTokens
    }

    public static func greedy(maxNewTokens: Int) -> Sampling { Sampling(maxNewTokens: maxNewTokens) }
}

/// Batched autoregressive generation with a key/value cache: the vision encoder and each prompt run
/// once (the prefill), then every step feeds one token per unfinished sequence through the decoder,
/// attending to the cached keys and values. Each sequence samples from its own seeded generator, so
/// its output does not depend on what else is in the batch.
public final class Generator {
    public let config: ModelConfig
    let layout: ParameterLayout
    private let workspace: ModelWorkspace
    private let prefillArena = FloatArena()
    private let stepArena = FloatArena()
    private let cacheArena = FloatArena()

    private let rotary: RotaryEmbedding

    public init(_ model: VisionLanguageModel) {
        config = model.config
        layout = model.layout
        rotary = model.rotary
        workspace = ModelWorkspace(model)
    }

    /// Completions (token ids, ending with `<eos>` when the model stopped) for each prompt. `images` is
    /// (B, H, W, 3) in [0, 1], one per prompt; `seeds` one per prompt (ignored when greedy).
    public func generate(parameters p: UnsafePointer<Float>, images: UnsafePointer<Float>, prompts: [[Int32]],
                         segments: [[Int32]]? = nil, sampling: Sampling, seeds: [UInt64]) -> [[Int32]] {
        let cfg = config, c = cfg.dim, np = cfg.patches, b = prompts.count, v = cfg.vocabSize
        guard b > 0 else { return [] }
        precondition(prompts.allSatisfy { !$0.isEmpty && $0.count < cfg.maxLen }, "prompts must be non-empty and shorter than max_len")
        let cache = KVCache(cacheArena, layers: cfg.layers, b: b, maxS: np + cfg.maxLen, c: c)
        let imageTokens = workspace.encodeImages(parameters: p, images: images, b: b)
        var lengths = [Int](repeating: 0, count: b)   // tokens in the cache per sequence
        var next = [Int32](repeating: 0, count: b)
        var randoms = seeds.map { SeededRandom(seed: $0) }
        var scratchLogits = [Float](repeating: 0, count: v), prefillLogits = scratchLogits
        let pixels = cfg.imageSize * cfg.imageSize * 3

        // Prefill, one sequence at a time (prompts differ in length). A sequence with the same image
        // and prompt as the one before it (a GRPO group's completions) copies its cache and logits:
        // the same computation, so the same bits.
        for i in 0..<b {
            let s = np + prompts[i].count
            if i > 0, prompts[i] == prompts[i - 1], segments.map({ $0[i] == $0[i - 1] }) ?? true,
               UnsafeBufferPointer(start: images + i * pixels, count: pixels).elementsEqual(UnsafeBufferPointer(start: images + (i - 1) * pixels, count: pixels)) {
                cache.copyPrevious(to: i, count: s)
                scratchLogits = prefillLogits
            } else {
                prefill(p, imageTokens: imageTokens + i * np * c, prompt: prompts[i], segments: segments?[i], into: cache, sequence: i,
                        logits: &scratchLogits)
                prefillLogits = scratchLogits
            }
            lengths[i] = s
            next[i] = Self.sample(&scratchLogits, sampling, &randoms[i])
        }

        // Decode: one token per unfinished sequence per step.
        var outputs = [[Int32]](repeating: [], count: b)
        var active = Array(0..<b)
        while true {
            for i in active { outputs[i].append(next[i]) }
            active = active.filter { i in
                next[i] != Tokenizer.eos && outputs[i].count < sampling.maxNewTokens && prompts[i].count + outputs[i].count < cfg.maxLen
            }
            if active.isEmpty { break }
            let logits = decode(p, tokens: active.map { next[$0] }, sequences: active, positions: active.map { lengths[$0] }, cache: cache)
            for (row, i) in active.enumerated() {
                lengths[i] += 1
                scratchLogits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits + row * v, count: v) }
                next[i] = Self.sample(&scratchLogits, sampling, &randoms[i])
            }
        }
        return outputs
    }

    /// Runs one sequence's image tokens and `prompt` through the decoder, keeping every position's
    /// keys and values in `cache`; `logits` = the next token's (V).
    private func prefill(_ p: UnsafePointer<Float>, imageTokens: UnsafePointer<Float>, prompt: [Int32], segments: [Int32]?,
                         into cache: KVCache, sequence i: Int, logits: inout [Float]) {
        let cfg = config, c = cfg.dim, np = cfg.patches, t = prompt.count, s = np + t, v = cfg.vocabSize
        let st = prefillArena.arrange { arena in
            (x: arena.take(s * c), blocks: (0..<cfg.layers).map { _ in BlockActivations(arena, b: 1, t: s, c: c, hidden: cfg.hidden, heads: cfg.heads) },
             norm: arena.take(c), mean: arena.take(1), rstd: arena.take(1))
        }
        st.x.update(from: imageTokens, count: np * c)
        prompt.withUnsafeBufferPointer { ids in
            Embedding.forward(st.x + np * c, ids: ids.baseAddress!, table: p + layout.tokenEmbedding, n: t, c: c)
        }
        Elementwise.accumulate(st.x + np * c, p + layout.textPosition, count: t * c)
        if let segments {
            segments.withUnsafeBufferPointer {
                ModelWorkspace.addSegments(st.x + np * c, segments: $0.baseAddress!, table: p + layout.segmentEmbedding, t: t, c: c)
            }
        } else {
            ModelWorkspace.addSegments(st.x + np * c, segments: nil, table: p + layout.segmentEmbedding, t: t, c: c)
        }
        var x = UnsafePointer(st.x)
        for (l, w) in layout.decoderBlocks.enumerated() {
            TransformerBlock(w: w, b: 1, t: s, c: c, hidden: cfg.hidden, heads: cfg.heads, prefix: np, rotary: rotary).forward(p, input: x, acts: st.blocks[l])
            for row in 0..<s { cache.store(st.blocks[l].qkv + row * 3 * c, layer: l, sequence: i, position: row) }
            x = UnsafePointer(st.blocks[l].output)
        }
        LayerNorm.forward(st.norm, mean: st.mean, rstd: st.rstd, x + (s - 1) * c, weight: p + layout.normWeight,
                          bias: p + layout.normBias, n: 1, c: c)
        BLAS.gemv(m: v, n: c, a: p + layout.tokenEmbedding, lda: c, x: st.norm, y: &logits)
    }

    /// One decoding step: `tokens[row]` enters sequence `sequences[row]` at cache position
    /// `positions[row]`, through each block's own projections and MLP, attending to the cache.
    /// Returns the next tokens' logits (rows, V), valid until the next step.
    private func decode(_ p: UnsafePointer<Float>, tokens: [Int32], sequences: [Int], positions: [Int], cache: KVCache) -> UnsafePointer<Float> {
        let cfg = config, c = cfg.dim, np = cfg.patches, v = cfg.vocabSize, a = sequences.count
        let st = stepArena.arrange { arena in
            (x: arena.take(a * c), blocks: (0..<cfg.layers).map { _ in BlockActivations(arena, b: a, t: 1, c: c, hidden: cfg.hidden, heads: cfg.heads) },
             norm: arena.take(a * c), mean: arena.take(a), rstd: arena.take(a), att: arena.take(cache.maxS), logits: arena.take(a * v))
        }
        for row in 0..<a {
            (st.x + row * c).update(from: p + layout.tokenEmbedding + Int(tokens[row]) * c, count: c)
            Elementwise.accumulate(st.x + row * c, p + layout.textPosition + (positions[row] - np) * c, count: c)
            Elementwise.accumulate(st.x + row * c, p + layout.segmentEmbedding, count: c)   // segment 0
        }
        var x = UnsafePointer(st.x)
        for (l, w) in layout.decoderBlocks.enumerated() {
            let block = TransformerBlock(w: w, b: a, t: 1, c: c, hidden: cfg.hidden, heads: cfg.heads, prefix: 0, rotary: rotary)
            let acts = st.blocks[l]
            block.project(p, input: x, acts: acts)
            for row in 0..<a {
                let qkv = acts.qkv + row * 3 * c, i = sequences[row]
                rotary.apply(qkv, b: 1, t: 1, c: c, start: positions[row])
                cache.store(qkv, layer: l, sequence: i, position: positions[row])
                Self.attend(out: acts.atty + row * c, q: qkv, keys: cache.keys(layer: l, sequence: i), values: cache.values(layer: l, sequence: i),
                            count: positions[row] + 1, c: c, heads: cfg.heads, scores: st.att)
            }
            block.finish(p, input: x, acts: acts)
            x = UnsafePointer(acts.output)
        }
        LayerNorm.forward(st.norm, mean: st.mean, rstd: st.rstd, x, weight: p + layout.normWeight, bias: p + layout.normBias, n: a, c: c)
        BLAS.gemm(transB: true, m: a, n: v, k: c, a: st.norm, lda: c, b: p + layout.tokenEmbedding, ldb: c, c: st.logits, ldc: v)
        return UnsafePointer(st.logits)
    }

    /// The same completions as `generate`, computed without the cache: every step reruns the whole
    /// model on image + prompt + tokens so far. For tests and the benchmark only.
    public func generateWithoutCache(parameters p: UnsafePointer<Float>, images: UnsafePointer<Float>, prompts: [[Int32]],
                                     segments: [[Int32]]? = nil, sampling: Sampling, seeds: [UInt64]) -> [[Int32]] {
        let cfg = config, v = cfg.vocabSize, pixels = cfg.imageSize * cfg.imageSize * 3
        var outputs: [[Int32]] = []
        var logits = [Float](repeating: 0, count: v)
        for (i, prompt) in prompts.enumerated() {
            var random = SeededRandom(seed: seeds[i])
            var tokens = prompt, output: [Int32] = []
            var tokenSegments = segments?[i] ?? [Int32](repeating: 0, count: prompt.count)
            while true {
                let t = tokens.count
                let all = tokens.withUnsafeBufferPointer { ids in
                    tokenSegments.withUnsafeBufferPointer { segs in
                        workspace.forward(parameters: p, images: images + i * pixels, tokens: ids.baseAddress!,
                                          segments: segs.baseAddress!, b: 1, t: t)
                    }
                }
                logits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: all + (t - 1) * v, count: v) }
                let token = Self.sample(&logits, sampling, &random)
                output.append(token)
                tokens.append(token)
                tokenSegments.append(0)
                if token == Tokenizer.eos || output.count >= sampling.maxNewTokens || tokens.count >= cfg.maxLen { break }
            }
            outputs.append(output)
        }
        return outputs
    }

    /// out (C) = attention of one query over `count` cached positions, per head.
    static func attend(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                       count: Int, c: Int, heads: Int, scores: UnsafeMutablePointer<Float>) {
        let hs = c / heads
        let scale = 1 / Float(hs).squareRoot()
        for h in 0..<heads {
            BLAS.gemv(m: count, n: hs, alpha: scale, a: keys + h * hs, lda: c, x: q + h * hs, y: scores)
            Softmax.normalize(scores, count: count)
            BLAS.gemv(trans: true, m: count, n: hs, a: values + h * hs, lda: c, x: scores, y: out + h * hs)
        }
    }

    /// The next token from `logits` (modified in place).
    static func sample(_ logits: inout [Float], _ sampling: Sampling, _ random: inout SeededRandom) -> Int32 {
        if sampling.temperature <= 0 {
            var best = 0
            for j in 1..<logits.count where logits[j] > logits[best] { best = j }
            return Int32(best)
        }
        var order = Array(logits.indices)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if sampling.topK > 0 { order = Array(order.prefix(sampling.topK)) }
        let m = logits[order[0]]
        var probabilities = order.map { Double(expf((logits[$0] - m) / sampling.temperature)) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        if sampling.topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < probabilities.count && cumulative < Double(sampling.topP) {
                cumulative += probabilities[keep]
                keep += 1
            }
            order = Array(order.prefix(max(1, keep)))
            probabilities = Array(probabilities.prefix(max(1, keep)))
        }
        let draw = random.uniform() * probabilities.reduce(0, +)
        var cumulative = 0.0
        for (k, probability) in probabilities.enumerated() {
            cumulative += probability
            if draw < cumulative { return Int32(order[k]) }
        }
        return Int32(order[order.count - 1])
    }
}

/// The keys and values of every decoder layer for a batch of sequences: per layer (B, maxS, C) each.
struct KVCache {
    let layers: [(k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>)]
    let maxS: Int, c: Int

    init(_ arena: FloatArena, layers: Int, b: Int, maxS: Int, c: Int) {
        self.layers = arena.arrange { arena in (0..<layers).map { _ in (k: arena.take(b * maxS * c), v: arena.take(b * maxS * c)) } }
        self.maxS = maxS
        self.c = c
    }

    func keys(layer l: Int, sequence i: Int) -> UnsafePointer<Float> { UnsafePointer(layers[l].k + i * maxS * c) }
    func values(layer l: Int, sequence i: Int) -> UnsafePointer<Float> { UnsafePointer(layers[l].v + i * maxS * c) }

    /// Keeps the key and value of a row of qkv (3C) at `position` of sequence `i` in layer `l`.
    func store(_ qkv: UnsafePointer<Float>, layer l: Int, sequence i: Int, position: Int) {
        (layers[l].k + (i * maxS + position) * c).update(from: qkv + c, count: c)
        (layers[l].v + (i * maxS + position) * c).update(from: qkv + 2 * c, count: c)
    }

    /// Copies the first `count` positions of sequence i - 1 to sequence i, in every layer.
    func copyPrevious(to i: Int, count: Int) {
        for layer in layers {
            (layer.k + i * maxS * c).update(from: layer.k + (i - 1) * maxS * c, count: count * c)
            (layer.v + i * maxS * c).update(from: layer.v + (i - 1) * maxS * c, count: count * c)
        }
    }
}
