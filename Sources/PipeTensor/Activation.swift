import Foundation

/// GELU, the tanh approximation (GPT-2's).
public enum GELU {
    static let k = Float((2 / Double.pi).squareRoot())

    /// tanh through one expf: 1 - 2 / (exp(2x) + 1). glibc's tanhf took 40% of a training step.
    @inline(__always)
    static func tanh(_ x: Float) -> Float { 1 - 2 / (expf(2 * x) + 1) }

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
        var s: Float = 0
        for i in 0..<count {
            x[i] = expf(x[i] - m)
            s += x[i]
        }
        let inv = 1 / s
        for i in 0..<count { x[i] *= inv }
    }
}
