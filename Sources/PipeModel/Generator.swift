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
        let maxS = np + cfg.maxLen
        // Caches: per layer, keys and values (B, maxS, C).
        let cache = cacheArena.arrange { arena in
            (0..<cfg.layers).map { _ in (k: arena.take(b * maxS * c), v: arena.take(b * maxS * c)) }
        }
        let imageTokens = workspace.encodeImages(parameters: p, images: images, b: b)
        var lengths = [Int](repeating: 0, count: b)   // tokens in the cache per sequence
        var next = [Int32](repeating: 0, count: b)
        var randoms = seeds.map { SeededRandom(seed: $0) }
        var outputs = [[Int32]](repeating: [], count: b)
        var scratchLogits = [Float](repeating: 0, count: v), prefillLogits = scratchLogits
        let pixels = cfg.imageSize * cfg.imageSize * 3

        // Prefill, one sequence at a time (prompts differ in length). A sequence with the same image
        // and prompt as the one before it (a GRPO group's completions) copies its cache and logits:
        // the same computation, so the same bits.
        for i in 0..<b {
            let t = prompts[i].count, s = np + t
            if i > 0, prompts[i] == prompts[i - 1], segments.map({ $0[i] == $0[i - 1] }) ?? true,
               UnsafeBufferPointer(start: images + i * pixels, count: pixels).elementsEqual(UnsafeBufferPointer(start: images + (i - 1) * pixels, count: pixels)) {
                for l in 0..<cfg.layers {
                    (cache[l].k + i * maxS * c).update(from: cache[l].k + (i - 1) * maxS * c, count: s * c)
                    (cache[l].v + i * maxS * c).update(from: cache[l].v + (i - 1) * maxS * c, count: s * c)
                }
                scratchLogits = prefillLogits
                lengths[i] = s
                next[i] = Self.sample(&scratchLogits, sampling, &randoms[i])
                continue
            }
            let st = prefillArena.arrange { arena in
                (x: arena.take(s * c), blocks: (0..<cfg.layers).map { _ in BlockActivations(arena, b: 1, t: s, c: c, hidden: cfg.hidden, heads: cfg.heads) },
                 norm: arena.take(c), mean: arena.take(1), rstd: arena.take(1))
            }
            st.x.update(from: imageTokens + i * np * c, count: np * c)
            prompts[i].withUnsafeBufferPointer { ids in
                Embedding.forward(st.x + np * c, ids: ids.baseAddress!, table: p + layout.tokenEmbedding, n: t, c: c)
            }
            Elementwise.accumulate(st.x + np * c, p + layout.textPosition, count: t * c)
            if let segments {
                segments[i].withUnsafeBufferPointer {
                    ModelWorkspace.addSegments(st.x + np * c, segments: $0.baseAddress!, table: p + layout.segmentEmbedding, t: t, c: c)
                }
            } else {
                ModelWorkspace.addSegments(st.x + np * c, segments: nil, table: p + layout.segmentEmbedding, t: t, c: c)
            }
            var x = UnsafePointer(st.x)
            for (l, w) in layout.decoderBlocks.enumerated() {
                TransformerBlock(w: w, b: 1, t: s, c: c, hidden: cfg.hidden, heads: cfg.heads, prefix: np, rotary: rotary).forward(p, input: x, acts: st.blocks[l])
                for row in 0..<s {
                    (cache[l].k + (i * maxS + row) * c).update(from: st.blocks[l].qkv + row * 3 * c + c, count: c)
                    (cache[l].v + (i * maxS + row) * c).update(from: st.blocks[l].qkv + row * 3 * c + 2 * c, count: c)
                }
                x = UnsafePointer(st.blocks[l].output)
            }
            LayerNorm.forward(st.norm, mean: st.mean, rstd: st.rstd, x + (s - 1) * c, weight: p + layout.normWeight,
                              bias: p + layout.normBias, n: 1, c: c)
            BLAS.gemv(m: v, n: c, a: p + layout.tokenEmbedding, lda: c, x: st.norm, y: &scratchLogits)
            prefillLogits = scratchLogits
            lengths[i] = s
            next[i] = Self.sample(&scratchLogits, sampling, &randoms[i])
        }

        // Decode: one token per unfinished sequence per step.
        var active = Array(0..<b)
        while true {
            for i in active { outputs[i].append(next[i]) }
            active = active.filter { i in
                next[i] != Tokenizer.eos && outputs[i].count < sampling.maxNewTokens && prompts[i].count + outputs[i].count < cfg.maxLen
            }
            if active.isEmpty { break }
            let a = active.count
            let st = stepArena.arrange { arena in
                (x: arena.take(a * c), ln: arena.take(a * c), mean: arena.take(a), rstd: arena.take(a), qkv: arena.take(a * 3 * c),
                 atty: arena.take(a * c), proj: arena.take(a * c), fch: arena.take(a * cfg.hidden), gelu: arena.take(a * cfg.hidden),
                 att: arena.take(maxS), logits: arena.take(a * v))
            }
            for (row, i) in active.enumerated() {
                let position = lengths[i] - np
                let token = next[i]
                (st.x + row * c).update(from: p + layout.tokenEmbedding + Int(token) * c, count: c)
                Elementwise.accumulate(st.x + row * c, p + layout.textPosition + position * c, count: c)
                Elementwise.accumulate(st.x + row * c, p + layout.segmentEmbedding, count: c)   // segment 0
            }
            for (l, w) in layout.decoderBlocks.enumerated() {
                LayerNorm.forward(st.ln, mean: st.mean, rstd: st.rstd, st.x, weight: p + w.ln1Weight, bias: p + w.ln1Bias, n: a, c: c)
                Linear.forward(st.qkv, st.ln, weight: p + w.qkvWeight, bias: p + w.qkvBias, n: a, c: c, oc: 3 * c)
                for (row, i) in active.enumerated() {
                    rotary.apply(st.qkv + row * 3 * c, b: 1, t: 1, c: c, start: lengths[i])
                    let slot = i * maxS + lengths[i]
                    (cache[l].k + slot * c).update(from: st.qkv + row * 3 * c + c, count: c)
                    (cache[l].v + slot * c).update(from: st.qkv + row * 3 * c + 2 * c, count: c)
                    Self.attend(out: st.atty + row * c, q: st.qkv + row * 3 * c, keys: cache[l].k + i * maxS * c,
                                values: cache[l].v + i * maxS * c, count: lengths[i] + 1, c: c, heads: cfg.heads, scores: st.att)
                }
                Linear.forward(st.proj, st.atty, weight: p + w.projWeight, bias: p + w.projBias, n: a, c: c, oc: c)
                Elementwise.accumulate(st.x, st.proj, count: a * c)
                LayerNorm.forward(st.ln, mean: st.mean, rstd: st.rstd, st.x, weight: p + w.ln2Weight, bias: p + w.ln2Bias, n: a, c: c)
                Linear.forward(st.fch, st.ln, weight: p + w.fcWeight, bias: p + w.fcBias, n: a, c: c, oc: cfg.hidden)
                GELU.forward(st.gelu, st.fch, count: a * cfg.hidden)
                Linear.forward(st.proj, st.gelu, weight: p + w.fcProjWeight, bias: p + w.fcProjBias, n: a, c: cfg.hidden, oc: c)
                Elementwise.accumulate(st.x, st.proj, count: a * c)
            }
            LayerNorm.forward(st.ln, mean: st.mean, rstd: st.rstd, st.x, weight: p + layout.normWeight, bias: p + layout.normBias, n: a, c: c)
            BLAS.gemm(transB: true, m: a, n: v, k: c, a: st.ln, lda: c, b: p + layout.tokenEmbedding, ldb: c, c: st.logits, ldc: v)
            for (row, i) in active.enumerated() {
                lengths[i] += 1
                scratchLogits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: st.logits + row * v, count: v) }
                next[i] = Self.sample(&scratchLogits, sampling, &randoms[i])
            }
        }
        return outputs
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
