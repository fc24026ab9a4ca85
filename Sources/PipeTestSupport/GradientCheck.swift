import Foundation
import PipeRandom
import Testing

/// Central finite differences against an analytic gradient, with relative + absolute tolerance;
/// prints the largest error so a regression shows how far off it is.
public struct GradientCheck {
    public var epsilon: Float
    public var relative: Double
    public var absolute: Double

    public init(epsilon: Float = 4e-3, relative: Double = 2e-2, absolute: Double = 2e-3) {
        self.epsilon = epsilon
        self.relative = relative
        self.absolute = absolute
    }

    /// `loss(x)` must be a smooth function of `x`; `analytic` is d loss / d x.
    public func check(_ name: String, at x: [Float], analytic: [Float], loss: ([Float]) -> Double,
               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(x.count == analytic.count, "\(name): gradient size", sourceLocation: sourceLocation)
        var worst = 0.0, worstIndex = 0
        var probe = x
        for i in x.indices {
            probe[i] = x[i] + epsilon
            let up = loss(probe)
            probe[i] = x[i] - epsilon
            let down = loss(probe)
            probe[i] = x[i]
            let numeric = (up - down) / (2 * Double(epsilon))
            let error = abs(numeric - Double(analytic[i])) / (absolute + relative * abs(numeric))
            if error > worst { (worst, worstIndex) = (error, i) }
        }
        print("gradient check \(name): \(x.count) values, worst error \(String(format: "%.3f", worst)) of tolerance at \(worstIndex)")
        #expect(worst <= 1, "\(name): analytic gradient differs from finite differences at \(worstIndex)", sourceLocation: sourceLocation)
    }
}

/// Seeded test data.
public struct TestData {
    public var random: SeededRandom

    public init(seed: UInt64) { random = SeededRandom(seed: seed) }

    public mutating func normal(_ count: Int, std: Double = 1) -> [Float] { (0..<count).map { _ in Float(random.normal() * std) } }

    /// sum(weights * out), the scalar whose gradient with respect to out is `weights`.
    public static func weightedSum(_ out: [Float], _ weights: [Float]) -> Double {
        zip(out, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
}
