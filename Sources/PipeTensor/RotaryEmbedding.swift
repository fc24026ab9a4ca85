import Foundation

/// Rotary position embedding (RoPE, Su et al.): each head's query and key dimensions (2i, 2i+1) are
/// rotated by position * base^(-2i / headSize), so attention scores depend on relative positions.
public struct RotaryEmbedding: Sendable {
    public let headSize: Int
    public let positions: Int
    private let cosines: [Float]   // (positions, headSize / 2)
    private let sines: [Float]

    public init(headSize: Int, positions: Int, base: Double = 10_000) {
        precondition(headSize % 2 == 0, "RoPE needs an even head size")
        self.headSize = headSize
        self.positions = positions
        let half = headSize / 2
        var cosines = [Float](repeating: 0, count: positions * half), sines = cosines
        for p in 0..<positions {
            for i in 0..<half {
                let angle = Double(p) * pow(base, -2 * Double(i) / Double(headSize))
                cosines[p * half + i] = Float(cos(angle))
                sines[p * half + i] = Float(sin(angle))
            }
        }
        self.cosines = cosines
        self.sines = sines
    }

    /// Rotates q and k of qkv (B, T, 3C) in place, position start + t for row t; `inverse` rotates back
    /// (the backward pass applies the inverse rotation to dq and dk).
    public func apply(_ qkv: UnsafeMutablePointer<Float>, b: Int, t: Int, c: Int, start: Int = 0, inverse: Bool = false) {
        let heads = c / headSize, half = headSize / 2
        precondition(start + t <= positions, "position beyond the rotary table")
        cosines.withUnsafeBufferPointer { cosTable in
            sines.withUnsafeBufferPointer { sinTable in
                for row in 0..<(b * t) {
                    let position = start + row % t
                    let cs = cosTable.baseAddress! + position * half, sn = sinTable.baseAddress! + position * half
                    for part in 0..<2 {   // q, then k
                        for h in 0..<heads {
                            let x = qkv + row * 3 * c + part * c + h * headSize
                            for i in 0..<half {
                                let s = inverse ? -sn[i] : sn[i]
                                let (a, bb) = (x[2 * i], x[2 * i + 1])
                                x[2 * i] = a * cs[i] - bb * s
                                x[2 * i + 1] = a * s + bb * cs[i]
                            }
                        }
                    }
                }
            }
        }
    }
}
