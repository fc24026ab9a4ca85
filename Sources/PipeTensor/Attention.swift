import Foundation

/// Multi-head self-attention over packed q, k, v, with a prefix-LM mask: position i sees position j
/// when j <= i (causal) or j < prefix (the prefix, e.g. the image patches, is seen by everyone and
/// sees itself bidirectionally). prefix = T gives full bidirectional attention; prefix = 0 is causal.
public enum Attention {
    /// out (B, T, C) from qkv (B, T, 3C) laid out [q | k | v], each C = heads * headSize.
    /// Saves att (B, heads, T, T), the attention probabilities (0 where masked), for the backward pass.
    public static func forward(_ out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                               b batch: Int, t: Int, c: Int, heads: Int, prefix: Int) {
        let hs = c / heads
        let scale = 1 / Float(hs).squareRoot()
        for b in 0..<batch {
            let base = qkv + b * t * 3 * c
            for h in 0..<heads {
                let q = base + h * hs, k = base + c + h * hs, v = base + 2 * c + h * hs
                let a = att + (b * heads + h) * t * t
                // scores (T, T) = scale * q . k^T
                BLAS.gemm(transB: true, m: t, n: t, k: hs, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: a, ldc: t)
                for i in 0..<t {
                    let row = a + i * t
                    let visible = max(i + 1, min(prefix, t))
                    Softmax.normalize(row, count: visible)
                    for j in visible..<t { row[j] = 0 }
                }
                // out_h (T, hs) = att . v
                BLAS.gemm(m: t, n: hs, k: t, a: a, lda: t, b: v, ldb: 3 * c, c: out + b * t * c + h * hs, ldc: c)
            }
        }
    }

    /// Accumulates dqkv (B, T, 3C) from dout (B, T, C); `scratch` holds T * T floats.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                att: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                b batch: Int, t: Int, c: Int, heads: Int, prefix: Int) {
        let hs = c / heads
        let scale = 1 / Float(hs).squareRoot()
        for b in 0..<batch {
            let base = qkv + b * t * 3 * c, dbase = dqkv + b * t * 3 * c
            for h in 0..<heads {
                let q = base + h * hs, k = base + c + h * hs, v = base + 2 * c + h * hs
                let dq = dbase + h * hs, dk = dbase + c + h * hs, dv = dbase + 2 * c + h * hs
                let a = att + (b * heads + h) * t * t
                let d = dout + b * t * c + h * hs
                // datt (T, T) = dout_h . v^T ; dv += att^T . dout_h
                BLAS.gemm(transB: true, m: t, n: t, k: hs, a: d, lda: c, b: v, ldb: 3 * c, c: scratch, ldc: t)
                BLAS.gemm(transA: true, m: t, n: hs, k: t, a: a, lda: t, b: d, ldb: c, beta: 1, c: dv, ldc: 3 * c)
                // dscores = att * (datt - sum_j att * datt), zero where masked (att is 0 there)
                Softmax.backward(scratch, probs: a, rows: t, width: t)
                // dq += scale * dscores . k ; dk += scale * dscores^T . q
                BLAS.gemm(m: t, n: hs, k: t, alpha: scale, a: scratch, lda: t, b: k, ldb: 3 * c, beta: 1, c: dq, ldc: 3 * c)
                BLAS.gemm(transA: true, m: t, n: hs, k: t, alpha: scale, a: scratch, lda: t, b: q, ldb: 3 * c, beta: 1, c: dk, ldc: 3 * c)
            }
        }
    }
}
