import Foundation

/// Layer normalization over the last dimension, with a learned scale and shift.
public enum LayerNorm {
    public static let epsilon: Float = 1e-5

    /// out (N, C) = (inp - mean) * rstd * weight + bias; saves mean (N) and rstd (N) for the backward pass.
    public static func forward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int) {
        for row in 0..<n {
            let x = inp + row * c
            var m: Float = 0
            for i in 0..<c { m += x[i] }
            m /= Float(c)
            var v: Float = 0
            for i in 0..<c {
                let d = x[i] - m
                v += d * d
            }
            v /= Float(c)
            let s = 1 / (v + epsilon).squareRoot()
            let o = out + row * c
            for i in 0..<c { o[i] = (x[i] - m) * s * weight[i] + bias[i] }
            mean[row] = m
            rstd[row] = s
        }
    }

    /// Accumulates dinp (N, C), dweight (C), dbias (C) from dout.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, n: Int, c: Int) {
        for row in 0..<n {
            let x = inp + row * c, d = dout + row * c, dx = dinp + row * c
            let m = mean[row], s = rstd[row]
            // dnorm = dout * weight; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
            var meanD: Float = 0, meanDN: Float = 0
            for i in 0..<c {
                let norm = (x[i] - m) * s
                let dnorm = weight[i] * d[i]
                meanD += dnorm
                meanDN += dnorm * norm
                dbias[i] += d[i]
                dweight[i] += norm * d[i]
            }
            meanD /= Float(c)
            meanDN /= Float(c)
            for i in 0..<c {
                let norm = (x[i] - m) * s
                dx[i] += s * (weight[i] * d[i] - meanD - norm * meanDN)
            }
        }
    }
}
