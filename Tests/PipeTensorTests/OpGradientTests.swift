import Foundation
import PipeTestSupport
import Testing
@testable import PipeTensor

/// Every op's backward pass against central finite differences.
struct OpGradientTests {
    let check = GradientCheck()

    @Test func linear() {
        var data = TestData(seed: 1)
        let (n, c, oc) = (5, 7, 6)
        let x = data.normal(n * c), w = data.normal(oc * c, std: 0.5), b = data.normal(oc), g = data.normal(n * oc)
        func forward(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n * oc)
            Linear.forward(&out, x, weight: w, bias: b, n: n, c: c, oc: oc)
            return out
        }
        var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: oc * c), db = [Float](repeating: 0, count: oc)
        Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: g, inp: x, weight: w, n: n, c: c, oc: oc)
        check.check("linear.inp", at: x, analytic: dx) { TestData.weightedSum(forward($0, w, b), g) }
        check.check("linear.weight", at: w, analytic: dw) { TestData.weightedSum(forward(x, $0, b), g) }
        check.check("linear.bias", at: b, analytic: db) { TestData.weightedSum(forward(x, w, $0), g) }
        // The forward pass against a direct sum.
        let out = forward(x, w, b)
        var expected: Float = b[2]
        for k in 0..<c { expected += x[3 * c + k] * w[2 * c + k] }
        #expect(abs(out[3 * oc + 2] - expected) < 1e-5)
    }

    @Test func layerNorm() {
        var data = TestData(seed: 2)
        let (n, c) = (4, 9)
        let x = data.normal(n * c, std: 2), w = data.normal(c), b = data.normal(c), g = data.normal(n * c)
        func forward(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n * c), mean = [Float](repeating: 0, count: n), rstd = mean
            LayerNorm.forward(&out, mean: &mean, rstd: &rstd, x, weight: w, bias: b, n: n, c: c)
            return out
        }
        var out = [Float](repeating: 0, count: n * c), mean = [Float](repeating: 0, count: n), rstd = mean
        LayerNorm.forward(&out, mean: &mean, rstd: &rstd, x, weight: w, bias: b, n: n, c: c)
        var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c), db = dw
        LayerNorm.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: g, inp: x, weight: w, mean: mean, rstd: rstd, n: n, c: c)
        check.check("layernorm.inp", at: x, analytic: dx) { TestData.weightedSum(forward($0, w, b), g) }
        check.check("layernorm.weight", at: w, analytic: dw) { TestData.weightedSum(forward(x, $0, b), g) }
        check.check("layernorm.bias", at: b, analytic: db) { TestData.weightedSum(forward(x, w, $0), g) }
    }

    @Test func gelu() {
        var data = TestData(seed: 3)
        let x = data.normal(50, std: 2), g = data.normal(50)
        func forward(_ x: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: x.count)
            GELU.forward(&out, x, count: x.count)
            return out
        }
        var dx = [Float](repeating: 0, count: 50)
        GELU.backward(dinp: &dx, inp: x, dout: g, count: 50)
        check.check("gelu", at: x, analytic: dx) { TestData.weightedSum(forward($0), g) }
        #expect(abs(forward([1])[0] - 0.841192) < 1e-5, "GPT-2's tanh GELU at 1")
    }

    @Test(arguments: [0, 3, 7])
    func attention(prefix: Int) {
        var data = TestData(seed: 4)
        let (b, t, c, heads) = (2, 7, 8, 2)
        let qkv = data.normal(b * t * 3 * c), g = data.normal(b * t * c)
        func forward(_ qkv: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: b * t * c), att = [Float](repeating: 0, count: b * heads * t * t)
            Attention.forward(&out, att: &att, qkv: qkv, b: b, t: t, c: c, heads: heads, prefix: prefix)
            return (out, att)
        }
        let (_, att) = forward(qkv)
        var dqkv = [Float](repeating: 0, count: qkv.count), scratch = [Float](repeating: 0, count: t * t)
        Attention.backward(dqkv: &dqkv, dout: g, qkv: qkv, att: att, scratch: &scratch, b: b, t: t, c: c, heads: heads, prefix: prefix)
        check.check("attention(prefix \(prefix))", at: qkv, analytic: dqkv) { TestData.weightedSum(forward($0).0, g) }
        // The mask: row i sees j <= i and the prefix, each row sums to 1.
        for i in 0..<t {
            let row = att[(i * t)..<((i + 1) * t)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
            for j in 0..<t where j > i && j >= prefix { #expect(row[row.startIndex + j] == 0) }
        }
        // Outside the prefix, the last position's q and k change no earlier position's output.
        guard prefix < t else { return }
        var changed = qkv
        changed[(t - 1) * 3 * c] += 5       // q of the last position of the first sequence
        changed[(t - 1) * 3 * c + c] += 5   // k of the same position
        let before = forward(qkv).0, after = forward(changed).0
        #expect(before[..<((t - 1) * c)] == after[..<((t - 1) * c)])
        #expect(before[((t - 1) * c)..<(t * c)] != after[((t - 1) * c)..<(t * c)])
    }

    @Test func crossEntropyWithMask() {
        var data = TestData(seed: 5)
        let (n, v) = (6, 5)
        let logits = data.normal(n * v, std: 2)
        let targets: [Int32] = [0, 4, 2, 2, 1, 3]
        let mask: [Float] = [1, 0, 1, 1, 0, 1]
        func loss(_ logits: [Float]) -> Double {
            var probs = [Float](repeating: 0, count: n * v)
            return Double(CrossEntropy.forward(probs: &probs, logits: logits, targets: targets, mask: mask, n: n, v: v))
        }
        var probs = [Float](repeating: 0, count: n * v)
        _ = CrossEntropy.forward(probs: &probs, logits: logits, targets: targets, mask: mask, n: n, v: v)
        var dlogits = [Float](repeating: 0, count: n * v)
        CrossEntropy.backward(dlogits: &dlogits, probs: probs, targets: targets, mask: mask, n: n, v: v)
        check.check("cross-entropy", at: logits, analytic: dlogits, loss: loss)
        #expect(dlogits[v..<(2 * v)].allSatisfy { $0 == 0 }, "masked rows get no gradient")
        // The value against a direct computation.
        var expected = 0.0
        for row in 0..<n where mask[row] != 0 {
            let x = logits[(row * v)..<((row + 1) * v)].map(Double.init)
            let logSum = log(x.map { exp($0) }.reduce(0, +))
            expected -= x[Int(targets[row])] - logSum
        }
        #expect(abs(loss(logits) - expected / 4) < 1e-5)
    }

    @Test func tokenLogProbs() {
        var data = TestData(seed: 6)
        let (n, v) = (4, 7)
        let logits = data.normal(n * v, std: 2), weights = data.normal(n)
        let targets: [Int32] = [6, 0, 3, 3]
        func forward(_ logits: [Float]) -> [Float] {
            var logp = [Float](repeating: 0, count: n)
            CrossEntropy.tokenLogProbs(&logp, logits: logits, targets: targets, n: n, v: v)
            return logp
        }
        var dlogits = [Float](repeating: 0, count: n * v)
        CrossEntropy.tokenLogProbsBackward(dlogits: &dlogits, dlogp: weights, logits: logits, targets: targets, n: n, v: v)
        check.check("token log-probs", at: logits, analytic: dlogits) { TestData.weightedSum(forward($0), weights) }
        #expect(forward(logits).allSatisfy { $0 < 0 })
    }

    /// Entropies of softmax(logits / T): log V for equal logits, about 0 for one dominant logit, and
    /// -sum p log p of the tempered distribution otherwise.
    @Test func tokenEntropies() {
        let v = 4, logits: [Float] = [1, 1, 1, 1, 30, 0, 0, 0, 0, 1, 2, 3]
        for temperature: Float in [1, 0.5] {
            var entropy = [Float](repeating: 0, count: 3)
            CrossEntropy.tokenEntropies(&entropy, logits: logits, n: 3, v: v, temperature: temperature)
            let p = (0..<4).map { expf(Float($0) / temperature) }, s = p.reduce(0, +)
            let expected = -p.map { $0 / s * logf($0 / s) }.reduce(0, +)
            #expect(abs(entropy[0] - logf(4)) < 1e-6 && entropy[1] < 1e-6 && abs(entropy[2] - expected) < 1e-5, "\(entropy)")
        }
    }

    /// At a temperature T the log-probs are those of softmax(logits / T), and so is their gradient.
    @Test func tokenLogProbsAtATemperature() {
        var data = TestData(seed: 16)
        let (n, v, temperature) = (3, 5, Float(0.7))
        let logits = data.normal(n * v, std: 2), weights = data.normal(n)
        let targets: [Int32] = [4, 0, 2]
        func forward(_ logits: [Float], _ t: Float) -> [Float] {
            var logp = [Float](repeating: 0, count: n)
            CrossEntropy.tokenLogProbs(&logp, logits: logits, targets: targets, n: n, v: v, temperature: t)
            return logp
        }
        #expect(zip(forward(logits, temperature), forward(logits.map { $0 / temperature }, 1)).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(forward(logits, temperature), forward(logits, 1)).contains { abs($0 - $1) > 1e-2 }, "the temperature changes them")
        var dlogits = [Float](repeating: 0, count: n * v)
        CrossEntropy.tokenLogProbsBackward(dlogits: &dlogits, dlogp: weights, logits: logits, targets: targets, n: n, v: v,
                                           temperature: temperature)
        check.check("token log-probs at T", at: logits, analytic: dlogits) { TestData.weightedSum(forward($0, temperature), weights) }
    }

    @Test func embedding() {
        var data = TestData(seed: 7)
        let (vocab, c) = (5, 3)
        let table = data.normal(vocab * c)
        let ids: [Int32] = [4, 1, 4, 0]
        let g = data.normal(ids.count * c)
        func forward(_ table: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: ids.count * c)
            Embedding.forward(&out, ids: ids, table: table, n: ids.count, c: c)
            return out
        }
        var dtable = [Float](repeating: 0, count: vocab * c)
        Embedding.backward(dtable: &dtable, dout: g, ids: ids, n: ids.count, c: c)
        check.check("embedding", at: table, analytic: dtable) { TestData.weightedSum(forward($0), g) }
    }
}
