/// A fully connected layer, PyTorch's layout: weight (OC, C), bias (OC).
public enum Linear {
    /// out (N, OC) = inp (N, C) . weight^T + bias.
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, n: Int, c: Int, oc: Int) {
        BLAS.gemm(transB: true, m: n, n: oc, k: c, a: inp, lda: c, b: weight, ldb: c, c: out, ldc: oc)
        guard let bias else { return }
        for row in 0..<n {
            let o = out + row * oc
            for j in 0..<oc { o[j] += bias[j] }
        }
    }

    /// Accumulates: dinp (N, C) += dout . weight; dweight (OC, C) += dout^T . inp; dbias (OC) += sum over rows of dout.
    /// `dinp` nil skips the input gradient (the first layer's input is data); `dweight` nil skips the
    /// weight and bias gradients (an attack needs only the input's).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, c: Int, oc: Int) {
        if let dinp {
            BLAS.gemm(m: n, n: c, k: oc, a: dout, lda: oc, b: weight, ldb: c, beta: 1, c: dinp, ldc: c)
        }
        guard let dweight else { return }
        BLAS.gemm(transA: true, m: oc, n: c, k: n, a: dout, lda: oc, b: inp, ldb: c, beta: 1, c: dweight, ldc: c)
        guard let dbias else { return }
        for row in 0..<n {
            let d = dout + row * oc
            for j in 0..<oc { dbias[j] += d[j] }
        }
    }
}
