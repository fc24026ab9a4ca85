import PipeTensor

/// What one block's forward pass keeps for its backward pass.
struct BlockActivations {
    var ln1: UnsafeMutablePointer<Float>       // (N, C)
    var ln1Mean: UnsafeMutablePointer<Float>   // (N)
    var ln1Rstd: UnsafeMutablePointer<Float>   // (N)
    var qkv: UnsafeMutablePointer<Float>       // (N, 3C)
    var atty: UnsafeMutablePointer<Float>      // (N, C)
    var att: UnsafeMutablePointer<Float>       // (B, heads, T, T)
    var residual2: UnsafeMutablePointer<Float> // (N, C): input + attention
    var ln2: UnsafeMutablePointer<Float>       // (N, C)
    var ln2Mean: UnsafeMutablePointer<Float>   // (N)
    var ln2Rstd: UnsafeMutablePointer<Float>   // (N)
    var fch: UnsafeMutablePointer<Float>       // (N, H)
    var fchGelu: UnsafeMutablePointer<Float>   // (N, H)
    var output: UnsafeMutablePointer<Float>    // (N, C): residual2 + mlp

    init(_ arena: FloatArena, b: Int, t: Int, c: Int, hidden: Int, heads: Int) {
        let n = b * t
        ln1 = arena.take(n * c); ln1Mean = arena.take(n); ln1Rstd = arena.take(n)
        qkv = arena.take(n * 3 * c); atty = arena.take(n * c); att = arena.take(b * heads * t * t)
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
    var attScratch: UnsafeMutablePointer<Float> // (T, T)

    init(_ arena: FloatArena, b: Int, t: Int, c: Int, hidden: Int) {
        let n = b * t
        dln = arena.take(n * c); dqkv = arena.take(n * 3 * c); datty = arena.take(n * c)
        dresidual2 = arena.take(n * c); dfch = arena.take(n * hidden); dgelu = arena.take(n * hidden)
        attScratch = arena.take(t * t)
    }
}

/// A pre-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(.)).
struct TransformerBlock {
    let w: BlockParameters
    let b: Int, t: Int, c: Int, hidden: Int, heads: Int, prefix: Int
    /// Rotates queries and keys by position (0 ..< t).
    let rotary: RotaryEmbedding

    /// acts.output = block(input).
    func forward(_ p: UnsafePointer<Float>, input: UnsafePointer<Float>, acts: BlockActivations) {
        let n = b * t
        LayerNorm.forward(acts.ln1, mean: acts.ln1Mean, rstd: acts.ln1Rstd, input, weight: p + w.ln1Weight, bias: p + w.ln1Bias, n: n, c: c)
        Linear.forward(acts.qkv, acts.ln1, weight: p + w.qkvWeight, bias: p + w.qkvBias, n: n, c: c, oc: 3 * c)
        rotary.apply(acts.qkv, b: b, t: t, c: c)
        Attention.forward(acts.atty, att: acts.att, qkv: acts.qkv, b: b, t: t, c: c, heads: heads, prefix: prefix)
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
        let n = b * t
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
        Attention.backward(dqkv: s.dqkv, dout: s.datty, qkv: acts.qkv, att: acts.att, scratch: s.attScratch, b: b, t: t, c: c,
                           heads: heads, prefix: prefix)
        rotary.apply(s.dqkv, b: b, t: t, c: c, inverse: true)
        s.dln.update(repeating: 0, count: n * c)
        Linear.backward(dinp: s.dln, dweight: dw(w.qkvWeight), dbias: dw(w.qkvBias), dout: s.dqkv, inp: acts.ln1,
                        weight: p + w.qkvWeight, n: n, c: c, oc: 3 * c)
        LayerNorm.backward(dinp: dinput, dweight: g + w.ln1Weight, dbias: g + w.ln1Bias, dout: s.dln, inp: input,
                           weight: p + w.ln1Weight, mean: acts.ln1Mean, rstd: acts.ln1Rstd, n: n, c: c)
    }
}
