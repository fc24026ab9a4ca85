import Foundation

/// GELU, the tanh approximation (GPT-2's).
public enum GELU {
    static let k = Float((2 / Double.pi).squareRoot())

    /// tanh through one exp: 1 - 2 / (exp(2x) + 1). glibc's tanhf took 40% of a training step, and
    /// its expf a quarter; `FastMath.exp` lets the loops vectorize.
    @inline(__always)
    static func tanh(_ x: Float) -> Float { 1 - 2 / (FastMath.exp(2 * x) + 1) }

    /// out (n) = gelu(inp).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = inp[i]
            out[i] = 0.5 * x * (1 + tanh(k * (x + 0.044715 * x * x * x)))
        }
    }

    /// Accumulates dinp (n) += gelu'(inp) * dout.
    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = inp[i]
            let u = k * (x + 0.044715 * x * x * x)
            let t = tanh(u)
            let sech2 = 1 - t * t
            let local = 0.5 * (1 + t) + 0.5 * x * sech2 * k * (1 + 3 * 0.044715 * x * x)
            dinp[i] += local * dout[i]
        }
    }
}

/// Elementwise helpers.
public enum Elementwise {
    /// out = a + b.
    public static func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// y += x.
    public static func accumulate(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// y *= k.
    public static func scale(_ y: UnsafeMutablePointer<Float>, by k: Float, count: Int) {
        for i in 0..<count { y[i] *= k }
    }

    /// The sum of squares, accumulated in Double.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var s: Double = 0
        for i in 0..<count { s += Double(x[i]) * Double(x[i]) }
        return s
    }
}

/// Row-wise softmax.
public enum Softmax {
    /// out (N, C) = softmax of each row of inp; rows are computed stably (max subtracted).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, n: Int, c: Int) {
        for row in 0..<n {
            (out + row * c).update(from: inp + row * c, count: c)
            normalize(out + row * c, count: c)
        }
    }

    /// Replaces x[0..<count] by its softmax, stably (max subtracted).
    @inline(__always)
    public static func normalize(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for i in 0..<count { m = max(m, x[i]) }
        // Separate loops: the exponentials vectorize, an ordered sum would not.
        for i in 0..<count { x[i] = FastMath.exp(x[i] - m) }
        var s: Float = 0
        for i in 0..<count { s += x[i] }
        let inv = 1 / s
        for i in 0..<count { x[i] *= inv }
    }

    /// Backpropagates through the softmax of `rows` rows of `width` in place: each row of `grad`
    /// (the gradient with respect to the probabilities `probs`) becomes p * (grad - sum_j p_j grad_j).
    @inline(__always)
    public static func backward(_ grad: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, rows: Int, width: Int) {
        for i in 0..<rows {
            let row = grad + i * width, p = probs + i * width
            var dot: Float = 0
            for j in 0..<width { dot += p[j] * row[j] }
            for j in 0..<width { row[j] = p[j] * (row[j] - dot) }
        }
    }
}

/// Math without library calls, so that loops over it vectorize.
public enum FastMath {
    /// e^x to within 1e-7 relative (measured 7.8e-8; Cephes' expf: x = n ln 2 + r, a degree-6 polynomial in r, then
    /// 2^n through the exponent bits). Inputs are clamped to [-87, 88] (e^-87 is near the smallest
    /// normal float; e^88 near the largest); NaN stays NaN, and nothing traps.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let x = min(max(x, -87), 88)  // Swift's min and max pass NaN through
        // n = round(x / ln 2), read from the mantissa of 1.5 * 2^23 + x / ln 2 (no conversion that could trap).
        let shifted = x * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let y = p * r * r + r + 1
        let exponent = (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127) & 0xFF
        return y * Float(bitPattern: UInt32(bitPattern: exponent) &<< 23)
    }
}
