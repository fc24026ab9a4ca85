import PipeTensor

/// What one block's forward pass keeps for its backward pass.
struct BlockActivations {
    var ln1: UnsafeMutablePointer<Float>       // (N, C)
    var ln1Mean: UnsafeMutablePointer<Float>   // (N)
    var ln1Rstd: UnsafeMutablePointer<Float>   // (N)
    var qkv: UnsafeMutablePointer<Float>       // (N, 3C)
    var atty: UnsafeMutablePointer<Float>      // (N, C)
    var att: UnsafeMutablePointer<Float>       // the attention weights: heads * rows.attentionWeights
    var residual2: UnsafeMutablePointer<Float> // (N, C): input + attention
    var ln2: UnsafeMutablePointer<Float>       // (N, C)
    var ln2Mean: UnsafeMutablePointer<Float>   // (N)
    var ln2Rstd: UnsafeMutablePointer<Float>   // (N)
    var fch: UnsafeMutablePointer<Float>       // (N, H)
    var fchGelu: UnsafeMutablePointer<Float>   // (N, H)
    var output: UnsafeMutablePointer<Float>    // (N, C): residual2 + mlp

    init(_ arena: FloatArena, b: Int, t: Int, c: Int, hidden: Int, heads: Int) {
        self.init(arena, rows: .sequences(b: b, t: t, prefix: 0), c: c, hidden: hidden, heads: heads)
    }

    init(_ arena: FloatArena, rows: BlockRows, c: Int, hidden: Int, heads: Int) {
        let n = rows.count
        ln1 = arena.take(n * c); ln1Mean = arena.take(n); ln1Rstd = arena.take(n)
        qkv = arena.take(n * 3 * c); atty = arena.take(n * c); att = arena.take(heads * rows.attentionWeights)
        residual2 = arena.take(n * c)
        ln2 = arena.take(n * c); ln2Mean = arena.take(n); ln2Rstd = arena.take(n)
        fch = arena.take(n * hidden); fchGelu = arena.take(n * hidden)
        output = arena.take(n * c)
    }
}

/// Scratch for the backward pass of any block of a stack.
struct BlockGradients {
    var dln: UnsafeMutablePointer<Float>      // (N, C)
    var dqkv: UnsafeMutablePointer<Float>     // (N, 3C)
    var datty: UnsafeMutablePointer<Float>    // (N, C)
    var dresidual2: UnsafeMutablePointer<Float> // (N, C)
    var dfch: UnsafeMutablePointer<Float>     // (N, H)
    var dgelu: UnsafeMutablePointer<Float>    // (N, H)
    var attScratch: UnsafeMutablePointer<Float> // one sequence's attention weights per head

    init(_ arena: FloatArena, b: Int, t: Int, c: Int, hidden: Int) {
        self.init(arena, rows: .sequences(b: b, t: t, prefix: 0), c: c, hidden: hidden)
    }

    init(_ arena: FloatArena, rows: BlockRows, c: Int, hidden: Int) {
        let n = rows.count
        dln = arena.take(n * c); dqkv = arena.take(n * 3 * c); datty = arena.take(n * c)
        dresidual2 = arena.take(n * c); dfch = arena.take(n * hidden); dgelu = arena.take(n * hidden)
        attScratch = arena.take(rows.attentionScratch)
    }
}

/// The rows a block runs on and which of them attend to which.
enum BlockRows {
    /// b sequences of t rows each; the first `prefix` rows of a sequence are seen by all of its rows.
    case sequences(b: Int, t: Int, prefix: Int)
    /// The prefix rows of `images` images (`prefix` rows each, seeing each other), then the text
    /// rows of `imageOf.count` sequences (t each, causal), sequence s seeing image imageOf[s]'s rows:
    /// `sequences` with the prefix shared by sequences of the same image computed once.
    case sharedPrefix(images: Int, prefix: Int, imageOf: [Int], t: Int)

    var count: Int {
        switch self {
        case let .sequences(b, t, _): return b * t
        case let .sharedPrefix(images, prefix, imageOf, t): return images * prefix + imageOf.count * t
        }
    }

    /// Attention weights kept per head.
    var attentionWeights: Int {
        switch self {
        case let .sequences(b, t, _): return b * t * t
        case let .sharedPrefix(images, prefix, imageOf, t): return images * prefix * prefix + imageOf.count * t * (prefix + t)
        }
    }

    /// The backward pass's scratch for one sequence and head.
    var attentionScratch: Int {
        switch self {
        case let .sequences(_, t, _): return t * t
        case let .sharedPrefix(_, prefix, _, t): return max(prefix * prefix, t * (prefix + t))
        }
    }
}

/// A pre-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(.)).
struct TransformerBlock {
    let w: BlockParameters
    let rows: BlockRows
    let c: Int, hidden: Int, heads: Int
    /// Rotates queries and keys by position (0 ..< t).
    let rotary: RotaryEmbedding

    init(w: BlockParameters, rows: BlockRows, c: Int, hidden: Int, heads: Int, rotary: RotaryEmbedding) {
        self.w = w
        self.rows = rows
        self.c = c
        self.hidden = hidden
        self.heads = heads
        self.rotary = rotary
    }

    /// A block over b sequences of t rows, the first `prefix` of each seen by all.
    init(w: BlockParameters, b: Int, t: Int, c: Int, hidden: Int, heads: Int, prefix: Int, rotary: RotaryEmbedding) {
        self.init(w: w, rows: .sequences(b: b, t: t, prefix: prefix), c: c, hidden: hidden, heads: heads, rotary: rotary)
    }

    /// acts.output = block(input).
    func forward(_ p: UnsafePointer<Float>, input: UnsafePointer<Float>, acts: BlockActivations) {
        project(p, input: input, acts: acts)
        attend(acts)
        finish(p, input: input, acts: acts)
    }

    /// The attention's input: acts.qkv = qkv(ln1(input)), not yet rotated.
    func project(_ p: UnsafePointer<Float>, input: UnsafePointer<Float>, acts: BlockActivations) {
        let n = rows.count
        LayerNorm.forward(acts.ln1, mean: acts.ln1Mean, rstd: acts.ln1Rstd, input, weight: p + w.ln1Weight, bias: p + w.ln1Bias, n: n, c: c)
        Linear.forward(acts.qkv, acts.ln1, weight: p + w.qkvWeight, bias: p + w.qkvBias, n: n, c: c, oc: 3 * c)
    }

    /// acts.atty = attention over acts.qkv (queries and keys rotated in place by position), as the
    /// rows say which row sees which.
    func attend(_ acts: BlockActivations) {
        switch rows {
        case let .sequences(b, t, prefix):
            rotary.apply(acts.qkv, b: b, t: t, c: c)
            Attention.forward(acts.atty, att: acts.att, qkv: acts.qkv, b: b, t: t, c: c, heads: heads, prefix: prefix)
        case let .sharedPrefix(images, prefix, imageOf, t):
            let prefixRows = images * prefix, text = acts.qkv + prefixRows * 3 * c
            rotary.apply(acts.qkv, b: images, t: prefix, c: c)
            rotary.apply(text, b: imageOf.count, t: t, c: c, start: prefix)
            Attention.forward(acts.atty, att: acts.att, qkv: acts.qkv, b: images, t: prefix, c: c, heads: heads, prefix: prefix)
            SharedPrefixAttention.forward(acts.atty + prefixRows * c, att: acts.att + heads * prefixRows * prefix, qkv: text,
                                          prefixQKV: acts.qkv, imageOf: imageOf, t: t, prefix: prefix, c: c, heads: heads)
        }
    }

    /// From the attention's output acts.atty: acts.output = residual2 + mlp(ln2(residual2)), where
    /// residual2 = input + proj(atty).
    func finish(_ p: UnsafePointer<Float>, input: UnsafePointer<Float>, acts: BlockActivations) {
        let n = rows.count
        Linear.forward(acts.residual2, acts.atty, weight: p + w.projWeight, bias: p + w.projBias, n: n, c: c, oc: c)
        Elementwise.accumulate(acts.residual2, input, count: n * c)
        LayerNorm.forward(acts.ln2, mean: acts.ln2Mean, rstd: acts.ln2Rstd, acts.residual2, weight: p + w.ln2Weight, bias: p + w.ln2Bias, n: n, c: c)
        Linear.forward(acts.fch, acts.ln2, weight: p + w.fcWeight, bias: p + w.fcBias, n: n, c: c, oc: hidden)
        GELU.forward(acts.fchGelu, acts.fch, count: n * hidden)
        Linear.forward(acts.output, acts.fchGelu, weight: p + w.fcProjWeight, bias: p + w.fcProjBias, n: n, c: hidden, oc: c)
        Elementwise.accumulate(acts.output, acts.residual2, count: n * c)
    }

    /// Writes dinput (N, C) from doutput; accumulates the block's parameter gradients into g (with
    /// `weights` false, only the norms': the linear layers' weight gradients are skipped).
    func backward(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, acts: BlockActivations,
                  doutput: UnsafePointer<Float>, dinput: UnsafeMutablePointer<Float>, scratch s: BlockGradients, weights: Bool = true) {
        let n = rows.count
        func dw(_ offset: Int) -> UnsafeMutablePointer<Float>? { weights ? g + offset : nil }
        // MLP branch; the residual passes doutput through to residual2.
        s.dresidual2.update(from: doutput, count: n * c)
        s.dgelu.update(repeating: 0, count: n * hidden)
        Linear.backward(dinp: s.dgelu, dweight: dw(w.fcProjWeight), dbias: dw(w.fcProjBias), dout: doutput, inp: acts.fchGelu,
                        weight: p + w.fcProjWeight, n: n, c: hidden, oc: c)
        s.dfch.update(repeating: 0, count: n * hidden)
        GELU.backward(dinp: s.dfch, inp: acts.fch, dout: s.dgelu, count: n * hidden)
        s.dln.update(repeating: 0, count: n * c)
        Linear.backward(dinp: s.dln, dweight: dw(w.fcWeight), dbias: dw(w.fcBias), dout: s.dfch, inp: acts.ln2, weight: p + w.fcWeight,
                        n: n, c: c, oc: hidden)
        LayerNorm.backward(dinp: s.dresidual2, dweight: g + w.ln2Weight, dbias: g + w.ln2Bias, dout: s.dln, inp: acts.residual2,
                           weight: p + w.ln2Weight, mean: acts.ln2Mean, rstd: acts.ln2Rstd, n: n, c: c)
        // Attention branch; the residual passes dresidual2 through to the input.
        dinput.update(from: s.dresidual2, count: n * c)
        s.datty.update(repeating: 0, count: n * c)
        Linear.backward(dinp: s.datty, dweight: dw(w.projWeight), dbias: dw(w.projBias), dout: s.dresidual2, inp: acts.atty,
                        weight: p + w.projWeight, n: n, c: c, oc: c)
        s.dqkv.update(repeating: 0, count: n * 3 * c)
        switch rows {
        case let .sequences(b, t, prefix):
            Attention.backward(dqkv: s.dqkv, dout: s.datty, qkv: acts.qkv, att: acts.att, scratch: s.attScratch, b: b, t: t, c: c,
                               heads: heads, prefix: prefix)
            rotary.apply(s.dqkv, b: b, t: t, c: c, inverse: true)
        case let .sharedPrefix(images, prefix, imageOf, t):
            let prefixRows = images * prefix, text = prefixRows * 3 * c
            // The text rows first: their keys and values gradients reach the shared prefix rows.
            SharedPrefixAttention.backward(dqkv: s.dqkv + text, dprefixQKV: s.dqkv, dout: s.datty + prefixRows * c, qkv: acts.qkv + text,
                                           prefixQKV: acts.qkv, att: acts.att + heads * prefixRows * prefix, scratch: s.attScratch,
                                           imageOf: imageOf, t: t, prefix: prefix, c: c, heads: heads)
            Attention.backward(dqkv: s.dqkv, dout: s.datty, qkv: acts.qkv, att: acts.att, scratch: s.attScratch, b: images, t: prefix,
                               c: c, heads: heads, prefix: prefix)
            rotary.apply(s.dqkv, b: images, t: prefix, c: c, inverse: true)
            rotary.apply(s.dqkv + text, b: imageOf.count, t: t, c: c, start: prefix, inverse: true)
        }
        s.dln.update(repeating: 0, count: n * c)
        Linear.backward(dinp: s.dln, dweight: dw(w.qkvWeight), dbias: dw(w.qkvBias), dout: s.dqkv, inp: acts.ln1,
                        weight: p + w.qkvWeight, n: n, c: c, oc: 3 * c)
        LayerNorm.backward(dinp: dinput, dweight: g + w.ln1Weight, dbias: g + w.ln1Bias, dout: s.dln, inp: input,
                           weight: p + w.ln1Weight, mean: acts.ln1Mean, rstd: acts.ln1Rstd, n: n, c: c)
    }
}
