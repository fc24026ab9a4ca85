import Foundation

/// AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, applied only to
/// tensors of rank 2 and more (matrices and embeddings; not biases or norm scales), as is usual.
public struct AdamW: Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0.01
    public private(set) var step = 0
    private var m: [Float]
    private var v: [Float]
    private let decays: [Bool]
    private let ranges: [Range<Int>]

    public init(parameters: ParameterSet, weightDecay: Float = 0.01) {
        m = [Float](repeating: 0, count: parameters.count)
        v = m
        self.weightDecay = weightDecay
        decays = parameters.tensors.map { $0.shape.count >= 2 }
        ranges = parameters.tensors.map { $0.offset..<($0.offset + $0.count) }
    }

    /// One update of `values` from `gradients` at learning rate `lr`.
    public mutating func update(_ values: inout [Float], gradients: [Float], lr: Float) {
        step += 1
        let c1 = 1 - powf(beta1, Float(step)), c2 = 1 - powf(beta2, Float(step))
        for (range, decay) in zip(ranges, decays) {
            let wd = decay ? weightDecay : 0
            for i in range {
                let g = gradients[i]
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                let mHat = m[i] / c1, vHat = v[i] / c2
                values[i] -= lr * (mHat / (vHat.squareRoot() + epsilon) + wd * values[i])
            }
        }
    }
}

/// Linear warm-up to the peak, then cosine decay to `minRatio` of it at the last step.
public struct LearningRateSchedule: Sendable, Equatable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRatio: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minRatio: Float = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// The rate at `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps - 1)
        let progress = min(1, Float(step - warmupSteps) / Float(span))
        let cosine = 0.5 * (1 + cosf(.pi * progress))
        return peak * (minRatio + (1 - minRatio) * cosine)
    }
}

/// Gradient clipping by global norm.
public enum GradientClipping {
    /// Scales `gradients` so their L2 norm is at most `maxNorm` (when positive); returns the norm before.
    @discardableResult
    public static func clip(_ gradients: inout [Float], maxNorm: Float) -> Float {
        let norm = Float(gradients.withUnsafeBufferPointer { Elementwise.sumOfSquares($0.baseAddress!, count: $0.count) }.squareRoot())
        if maxNorm > 0, norm > maxNorm {
            let k = maxNorm / (norm + 1e-6)
            for i in gradients.indices { gradients[i] *= k }
        }
        return norm
    }
}
