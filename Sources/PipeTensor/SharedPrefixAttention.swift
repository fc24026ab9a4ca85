import Foundation

/// The text rows' half of prefix-LM attention when several sequences share one prefix (the G
/// completions of a GRPO group share their image): the prefix rows are stored once per image, and
/// text row i of sequence s sees every row of prefix imageOf[s] and its own text rows j <= i. With
/// `Attention` run on the prefix rows alone (which see only each other), this computes what
/// `Attention` computes on the full sequences, without repeating the prefix for every sequence.
public enum SharedPrefixAttention {
    /// out (B, T, C) for the text rows, from their qkv (B, T, 3C) and the prefixes' qkv (images, P, 3C),
    /// each laid out [q | k | v]. Saves att (B, heads, T, P + T), the attention probabilities (0
    /// where masked), for the backward pass.
    public static func forward(_ out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                               prefixQKV: UnsafePointer<Float>, imageOf: [Int], t: Int, prefix p: Int, c: Int, heads: Int) {
        let hs = c / heads, w = p + t
        let scale = 1 / Float(hs).squareRoot()
        for (s, image) in imageOf.enumerated() {
            let base = qkv + s * t * 3 * c, prefixBase = prefixQKV + image * p * 3 * c
            for h in 0..<heads {
                let q = base + h * hs, k = base + c + h * hs, v = base + 2 * c + h * hs
                let pk = prefixBase + c + h * hs, pv = prefixBase + 2 * c + h * hs
                let a = att + (s * heads + h) * t * w
                let o = out + s * t * c + h * hs
                // scores (T, P + T) = scale * q . [prefix k; k]^T
                BLAS.gemm(transB: true, m: t, n: p, k: hs, alpha: scale, a: q, lda: 3 * c, b: pk, ldb: 3 * c, c: a, ldc: w)
                BLAS.gemm(transB: true, m: t, n: t, k: hs, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: a + p, ldc: w)
                for i in 0..<t {
                    let row = a + i * w
                    let visible = p + i + 1
                    Softmax.normalize(row, count: visible)
                    for j in visible..<w { row[j] = 0 }
                }
                // out_h (T, hs) = att . [prefix v; v]
                BLAS.gemm(m: t, n: hs, k: p, a: a, lda: w, b: pv, ldb: 3 * c, c: o, ldc: c)
                BLAS.gemm(m: t, n: hs, k: t, a: a + p, lda: w, b: v, ldb: 3 * c, beta: 1, c: o, ldc: c)
            }
        }
    }

    /// Accumulates dqkv (B, T, 3C) and the prefixes' dprefixQKV (images, P, 3C) from dout (B, T, C);
    /// `scratch` holds T * (P + T) floats.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dprefixQKV: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                qkv: UnsafePointer<Float>, prefixQKV: UnsafePointer<Float>, att: UnsafePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>, imageOf: [Int], t: Int, prefix p: Int, c: Int, heads: Int) {
        let hs = c / heads, w = p + t
        let scale = 1 / Float(hs).squareRoot()
        for (s, image) in imageOf.enumerated() {
            let base = qkv + s * t * 3 * c, dbase = dqkv + s * t * 3 * c
            let prefixBase = prefixQKV + image * p * 3 * c, dprefixBase = dprefixQKV + image * p * 3 * c
            for h in 0..<heads {
                let q = base + h * hs, k = base + c + h * hs, v = base + 2 * c + h * hs
                let dq = dbase + h * hs, dk = dbase + c + h * hs, dv = dbase + 2 * c + h * hs
                let pk = prefixBase + c + h * hs, pv = prefixBase + 2 * c + h * hs
                let dpk = dprefixBase + c + h * hs, dpv = dprefixBase + 2 * c + h * hs
                let a = att + (s * heads + h) * t * w
                let d = dout + s * t * c + h * hs
                // datt (T, P + T) = dout_h . [prefix v; v]^T ; [dprefix v; dv] += att^T . dout_h
                BLAS.gemm(transB: true, m: t, n: p, k: hs, a: d, lda: c, b: pv, ldb: 3 * c, c: scratch, ldc: w)
                BLAS.gemm(transB: true, m: t, n: t, k: hs, a: d, lda: c, b: v, ldb: 3 * c, c: scratch + p, ldc: w)
                BLAS.gemm(transA: true, m: p, n: hs, k: t, a: a, lda: w, b: d, ldb: c, beta: 1, c: dpv, ldc: 3 * c)
                BLAS.gemm(transA: true, m: t, n: hs, k: t, a: a + p, lda: w, b: d, ldb: c, beta: 1, c: dv, ldc: 3 * c)
                // dscores = att * (datt - sum_j att * datt), zero where masked (att is 0 there)
                Softmax.backward(scratch, probs: a, rows: t, width: w)
                // dq += scale * dscores . [prefix k; k] ; [dprefix k; dk] += scale * dscores^T . q
                BLAS.gemm(m: t, n: hs, k: p, alpha: scale, a: scratch, lda: w, b: pk, ldb: 3 * c, beta: 1, c: dq, ldc: 3 * c)
                BLAS.gemm(m: t, n: hs, k: t, alpha: scale, a: scratch + p, lda: w, b: k, ldb: 3 * c, beta: 1, c: dq, ldc: 3 * c)
                BLAS.gemm(transA: true, m: p, n: hs, k: t, alpha: scale, a: scratch, lda: w, b: q, ldb: 3 * c, beta: 1, c: dpk, ldc: 3 * c)
                BLAS.gemm(transA: true, m: t, n: hs, k: t, alpha: scale, a: scratch + p, lda: w, b: q, ldb: 3 * c, beta: 1, c: dk, ldc: 3 * c)
            }
        }
    }
}
