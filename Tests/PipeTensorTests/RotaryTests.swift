import PipeTestSupport
import Testing
@testable import PipeTensor

/// Rotary positions: scores depend on relative position only; the inverse undoes the rotation;
/// the attention gradient through it matches finite differences.
struct RotaryTests {
    @Test func scoresDependOnRelativePositionAndInverseUndoes() {
        let rotary = RotaryEmbedding(headSize: 4, positions: 20)
        var data = TestData(seed: 9)
        let q = data.normal(4), k = data.normal(4)
        func score(_ qPosition: Int, _ kPosition: Int) -> Float {
            // qkv rows of C = 4 (one head): [q | k | v]
            var a = q + k + [0, 0, 0, 0], b = q + k + [0, 0, 0, 0]
            rotary.apply(&a, b: 1, t: 1, c: 4, start: qPosition)
            rotary.apply(&b, b: 1, t: 1, c: 4, start: kPosition)
            return (0..<4).reduce(0) { $0 + a[$1] * b[4 + $1] }
        }
        #expect(abs(score(5, 2) - score(13, 10)) < 1e-4)
        #expect(abs(score(5, 2) - score(5, 3)) > 1e-4)
        var x = data.normal(2 * 3 * 3 * 12)   // qkv rows (B = 2, T = 3, 3C = 36)
        let original = x
        rotary.apply(&x, b: 2, t: 3, c: 12, start: 4)
        #expect(x != original)
        rotary.apply(&x, b: 2, t: 3, c: 12, start: 4, inverse: true)
        #expect(zip(x, original).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func attentionWithRotaryGradient() {
        var data = TestData(seed: 10)
        let (b, t, c, heads) = (2, 5, 8, 2)
        let rotary = RotaryEmbedding(headSize: 4, positions: t)
        let qkv = data.normal(b * t * 3 * c), g = data.normal(b * t * c)
        func forward(_ qkv: [Float]) -> ([Float], [Float], [Float]) {
            var rotated = qkv
            rotary.apply(&rotated, b: b, t: t, c: c)
            var out = [Float](repeating: 0, count: b * t * c), att = [Float](repeating: 0, count: b * heads * t * t)
            Attention.forward(&out, att: &att, qkv: rotated, b: b, t: t, c: c, heads: heads, prefix: 2)
            return (out, att, rotated)
        }
        let (_, att, rotated) = forward(qkv)
        var dqkv = [Float](repeating: 0, count: qkv.count), scratch = [Float](repeating: 0, count: t * t)
        Attention.backward(dqkv: &dqkv, dout: g, qkv: rotated, att: att, scratch: &scratch, b: b, t: t, c: c, heads: heads, prefix: 2)
        rotary.apply(&dqkv, b: b, t: t, c: c, inverse: true)
        GradientCheck().check("attention with rotary positions", at: qkv, analytic: dqkv) { TestData.weightedSum(forward($0).0, g) }
    }
}
