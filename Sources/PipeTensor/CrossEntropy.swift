import Foundation

/// Token-level losses on logits.
public enum CrossEntropy {
    /// Mean negative log-likelihood of `targets` over the rows where `mask` is non-zero; writes
    /// probs (N, V) for the backward pass. Rows with a zero mask contribute nothing.
    public static func forward(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                               mask: UnsafePointer<Float>, n: Int, v: Int) -> Float {
        Softmax.forward(probs, logits, n: n, c: v)
        var loss: Double = 0, count: Double = 0
        for row in 0..<n where mask[row] != 0 {
            let p = max(probs[row * v + Int(targets[row])], Float.leastNormalMagnitude)
            loss -= Double(mask[row]) * Double(logf(p))
            count += Double(mask[row])
        }
        return count > 0 ? Float(loss / count) : 0
    }

    /// dlogits (N, V) = mask * (probs - onehot(target)) / sum(mask), written (not accumulated).
    public static func backward(dlogits: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                mask: UnsafePointer<Float>, n: Int, v: Int) {
        var count: Float = 0
        for row in 0..<n { count += mask[row] }
        let inv = count > 0 ? 1 / count : 0
        for row in 0..<n {
            let d = dlogits + row * v, p = probs + row * v
            let w = mask[row] * inv
            for j in 0..<v { d[j] = w * p[j] }
            d[Int(targets[row])] -= w
        }
    }

    /// logp (N) = log softmax(logits / temperature)[target] per row (log-probabilities of the chosen
    /// tokens under the distribution sampled at `temperature`, as TRL scores GRPO's completions).
    public static func tokenLogProbs(_ logp: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                     n: Int, v: Int, temperature: Float = 1) {
        let inv = 1 / temperature
        for row in 0..<n {
            let x = logits + row * v
            var m = -Float.infinity
            for j in 0..<v { m = max(m, x[j]) }
            var s: Float = 0
            for j in 0..<v { s += expf((x[j] - m) * inv) }
            logp[row] = (x[Int(targets[row])] - m) * inv - logf(s)
        }
    }

    /// entropy (N) = the entropy in nats of softmax(logits / temperature) per row: how uncertain the
    /// sampled distribution is at each position (TRL's token entropies).
    public static func tokenEntropies(_ entropy: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, n: Int, v: Int,
                                      temperature: Float = 1) {
        let inv = 1 / temperature
        for row in 0..<n {
            let x = logits + row * v
            var m = -Float.infinity
            for j in 0..<v { m = max(m, x[j]) }
            // H = log s - sum_j e^z_j z_j / s with z = (x - max) / T and s = sum_j e^z_j.
            var s: Float = 0, weighted: Float = 0
            for j in 0..<v {
                let z = (x[j] - m) * inv, e = expf(z)
                s += e
                weighted += e * z
            }
            entropy[row] = logf(s) - weighted / s
        }
    }

    /// dlogits (N, V) = dlogp * (onehot(target) - softmax(logits / temperature)) / temperature per
    /// row, the gradient of sum_rows dlogp * logp; written (not accumulated).
    public static func tokenLogProbsBackward(dlogits: UnsafeMutablePointer<Float>, dlogp: UnsafePointer<Float>,
                                             logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, n: Int, v: Int,
                                             temperature: Float = 1) {
        let inv = 1 / temperature
        for i in 0..<(n * v) { dlogits[i] = logits[i] * inv }
        for row in 0..<n { Softmax.normalize(dlogits + row * v, count: v) }
        for row in 0..<n {
            let d = dlogits + row * v
            let g = dlogp[row] * inv
            for j in 0..<v { d[j] *= -g }
            d[Int(targets[row])] += g
        }
    }
}

/// Token embedding lookup.
public enum Embedding {
    /// out (N, C) = table[ids[n]].
    public static func forward(_ out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>, n: Int, c: Int) {
        for row in 0..<n {
            let src = table + Int(ids[row]) * c, dst = out + row * c
            for i in 0..<c { dst[i] = src[i] }
        }
    }

    /// Accumulates dtable[ids[n]] += dout[n].
    public static func backward(dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, ids: UnsafePointer<Int32>, n: Int, c: Int) {
        for row in 0..<n {
            let dst = dtable + Int(ids[row]) * c, src = dout + row * c
            for i in 0..<c { dst[i] += src[i] }
        }
    }
}
