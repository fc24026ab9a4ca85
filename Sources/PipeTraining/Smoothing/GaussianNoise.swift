import PipeRandom

/// Seeded Gaussian noise on [0, 1] pixels (randomized smoothing and noise-augmented training). The
/// noisy pixels are not clipped to [0, 1], as in Cohen et al.
public enum GaussianNoise {
    /// A seed for item (`first`, `second`) of a stream: the same on every platform and thread count.
    public static func seed(_ base: UInt64, _ first: Int, _ second: Int) -> UInt64 {
        base ^ (UInt64(first) &* 0x9e37_79b9_7f4a_7c15) ^ (UInt64(second) &* 0xc2b2_ae3d_27d4_eb4f)
    }

    /// `image` plus N(0, sigma^2) noise drawn from `seed`.
    public static func added(to image: ArraySlice<Float>, sigma: Double, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        let s = Float(sigma)
        return image.map { $0 + s * Float(random.normal()) }
    }
}
