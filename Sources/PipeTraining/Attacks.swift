import Foundation
import PipeModel
import PipeRandom
import PipeTensor

/// An adversarial attack on the image pixels (in [0, 1], before the model's normalization).
public struct AttackSettings: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        /// x + eps * sign(grad), one step (Goodfellow et al.).
        case fgsm
        /// Projected gradient ascent in the L-infinity ball (Madry et al.).
        case pgdLinf = "pgd_linf"
        /// Projected gradient ascent in the L2 ball.
        case pgdL2 = "pgd_l2"
    }

    public var method: Method
    public var eps: Double
    /// Step size (PGD).
    public var alpha: Double
    public var steps: Int
    /// Start PGD at a random point of the ball (Linf: uniform; L2: a random direction, uniform radius).
    public var randomStart: Bool

    public init(method: Method, eps: Double, alpha: Double, steps: Int, randomStart: Bool = true) {
        self.method = method
        self.eps = eps
        self.alpha = alpha
        self.steps = steps
        self.randomStart = randomStart
    }

    /// torchattacks' defaults: Linf eps 8/255, alpha 2/255, 10 steps; L2 eps 1, alpha 0.2, 10 steps.
    public static func defaults(_ method: Method) -> AttackSettings {
        switch method {
        case .fgsm: return AttackSettings(method: .fgsm, eps: 8.0 / 255, alpha: 8.0 / 255, steps: 1, randomStart: false)
        case .pgdLinf: return AttackSettings(method: .pgdLinf, eps: 8.0 / 255, alpha: 2.0 / 255, steps: 10)
        case .pgdL2: return AttackSettings(method: .pgdL2, eps: 1, alpha: 0.2, steps: 10)
        }
    }
}

/// Crafts adversarial images against a policy: gradient ascent on the negative log-likelihood of
/// each example's ground-truth answer tokens (teacher-forced `<answer> X </answer>`). Each image's
/// loss is its own sum, so an image's attack does not depend on the rest of the batch.
public final class Attacker {
    private let workspace: ModelWorkspace
    private var scratchGradients: [Float]
    let pixels: Int

    public init(_ model: VisionLanguageModel) {
        workspace = ModelWorkspace(model)
        scratchGradients = [Float](repeating: 0, count: model.parameters.count)
        pixels = model.config.imageSize * model.config.imageSize * 3
    }

    /// The summed answer NLL of each example and its gradient with respect to the pixels.
    func lossAndGradient(parameters: [Float], images: [Float], batch: TokenBatch) -> (losses: [Double], gradient: [Float]) {
        let v = workspace.config.vocabSize, n = batch.b * batch.t
        let logits = workspace.forward(parameters: parameters, images: images, tokens: batch.inputs, segments: batch.segments, b: batch.b, t: batch.t)
        var logp = [Float](repeating: 0, count: n)
        CrossEntropy.tokenLogProbs(&logp, logits: logits, targets: batch.targets, n: n, v: v)
        var losses = [Double](repeating: 0, count: batch.b)
        for row in 0..<n where batch.mask[row] != 0 { losses[row / batch.t] -= Double(logp[row]) }
        // d(sum of -logp over masked tokens) / dlogp = -mask.
        let dlogp = batch.mask.map { -$0 }
        var dlogits = [Float](repeating: 0, count: n * v)
        CrossEntropy.tokenLogProbsBackward(dlogits: &dlogits, dlogp: dlogp, logits: logits, targets: batch.targets, n: n, v: v)
        var gradient = [Float](repeating: 0, count: images.count)
        workspace.backward(parameters: parameters, gradients: &scratchGradients, dlogits: dlogits, imageGradient: &gradient,
                           parameterGradients: false)
        return (losses, gradient)
    }

    /// Adversarial versions of `images` (B, H, W, 3) for the examples of `batch`; `seeds` (one per
    /// image) drive the random start.
    func attack(parameters: [Float], images: [Float], batch: TokenBatch, settings: AttackSettings, seeds: [UInt64]) -> [Float] {
        guard settings.eps > 0 else { return images }
        let eps = Float(settings.eps), alpha = Float(settings.alpha)
        var x = images
        if settings.method != .fgsm && settings.randomStart {
            for image in 0..<batch.b {
                var random = SeededRandom(seed: seeds[image])
                let range = (image * pixels)..<((image + 1) * pixels)
                switch settings.method {
                case .pgdLinf:
                    for i in range { x[i] = min(1, max(0, images[i] + Float(random.uniform() * 2 - 1) * eps)) }
                default:
                    var delta = range.map { _ in Float(random.normal()) }
                    let norm = max(Self.norm(delta), 1e-12), radius = Float(random.uniform()) * eps
                    delta = delta.map { $0 / norm * radius }
                    for (k, i) in range.enumerated() { x[i] = min(1, max(0, images[i] + delta[k])) }
                }
            }
        }
        for _ in 0..<(settings.method == .fgsm ? 1 : settings.steps) {
            let gradient = lossAndGradient(parameters: parameters, images: x, batch: batch).gradient
            for image in 0..<batch.b {
                let range = (image * pixels)..<((image + 1) * pixels)
                switch settings.method {
                case .fgsm:
                    for i in range { x[i] = min(1, max(0, images[i] + eps * Self.sign(gradient[i]))) }
                case .pgdLinf:
                    for i in range {
                        let stepped = x[i] + alpha * Self.sign(gradient[i])
                        x[i] = min(1, max(0, min(images[i] + eps, max(images[i] - eps, stepped))))
                    }
                case .pgdL2:
                    let g = Self.norm(Array(gradient[range])) + 1e-10
                    var delta = range.map { x[$0] + alpha * gradient[$0] / g - images[$0] }
                    let factor = min(1, eps / max(Self.norm(delta), 1e-12))
                    delta = delta.map { $0 * factor }
                    for (k, i) in range.enumerated() { x[i] = min(1, max(0, images[i] + delta[k])) }
                }
            }
        }
        return x
    }

    /// Adversarial images for `examples` of `dataset` (the teacher-forced answer is each example's
    /// `<answer> X </answer>`), one seed per example.
    public func attack(parameters: [Float], examples: [Example], dataset: VQADataset, answerTargets: [[Int32]],
                       settings: AttackSettings, seeds: [UInt64]) -> [Float] {
        var forced = examples
        for i in forced.indices { forced[i].target = answerTargets[i] }
        let batch = TokenBatch(forced, dataset: dataset)
        return attack(parameters: parameters, images: batch.images, batch: batch, settings: settings, seeds: seeds)
    }

    static func sign(_ x: Float) -> Float { x > 0 ? 1 : x < 0 ? -1 : 0 }

    static func norm(_ values: [Float]) -> Float {
        Float(values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
    }
}
