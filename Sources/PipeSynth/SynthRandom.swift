import Foundation
import PipeRandom

/// The generator's random source: SplitMix64 with the draws the renderers need. One per image,
/// seeded from the stage seed and the image's index, so images do not depend on each other.
struct SynthRandom {
    private var base: SeededRandom

    init(seed: UInt64, stream: UInt64) {
        // Mix the stream in so neighbouring indices start far apart.
        var mixer = SeededRandom(seed: seed ^ (stream &* 0x9e37_79b9_7f4a_7c15))
        base = SeededRandom(seed: mixer.next())
    }

    /// Uniform in [0, 1), 24 bits.
    mutating func uniform() -> Float { Float(base.next() >> 40) / Float(1 << 24) }

    /// Uniform in [a, b).
    mutating func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * uniform() }

    /// Uniform in 0..<n.
    mutating func int(_ n: Int) -> Int {
        precondition(n > 0, "empty range")
        return Int(base.next() % UInt64(n))
    }

    /// Uniform in `range`.
    mutating func int(in range: ClosedRange<Int>) -> Int { range.lowerBound + int(range.count) }

    /// True with probability `p`.
    mutating func chance(_ p: Float) -> Bool { uniform() < p }

    /// Standard normal (Box-Muller).
    mutating func normal() -> Float {
        let u = max(uniform(), 1e-7)
        let v = uniform()
        return (-2 * logf(u)).squareRoot() * cosf(2 * .pi * v)
    }

    /// A uniformly random permutation of `items`.
    mutating func shuffled<T>(_ items: [T]) -> [T] {
        var out = items
        guard out.count > 1 else { return out }
        for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, int(i + 1)) }
        return out
    }
}
