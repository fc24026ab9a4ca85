import Foundation
import Testing
@testable import PipeTensor

/// AdamW, the learning-rate schedule and clipping, against hand computation.
struct OptimizerTests {
    @Test func adamWMatchesTheFormulaAndDecaysOnlyMatrices() {
        var parameters = ParameterSet()
        parameters.add("w", [1, 2])
        parameters.add("b", [1])
        parameters.values = [1, -2, 3]
        var adam = AdamW(parameters: parameters, weightDecay: 0.1)
        var values = parameters.values
        let g: [Float] = [0.5, 0.5, 0.5]
        adam.update(&values, gradients: g, lr: 0.01)
        // Step 1: m-hat = g, v-hat = g^2, so the step is lr * (sign(g) + wd * value) for matrices.
        #expect(abs(values[0] - (1 - 0.01 * (1 + 0.1 * 1))) < 1e-6)
        #expect(abs(values[1] - (-2 - 0.01 * (1 + 0.1 * -2))) < 1e-6)
        #expect(abs(values[2] - (3 - 0.01 * 1)) < 1e-6, "no decay on a bias")
        adam.update(&values, gradients: [0, 0, 0], lr: 0.01)
        #expect(adam.step == 2)
        // Step 2 by hand for the bias: m = 0.9*0.05... m1 = 0.05, v1 = 0.00025; m2 = 0.045, v2 = 0.00024975.
        let m2 = 0.9 * 0.05, v2 = 0.999 * 0.00025
        let expected = Float(3 - 0.01 - 0.01 * (m2 / (1 - 0.81)) / ((v2 / (1 - 0.998001)).squareRoot() + 1e-8))
        #expect(abs(values[2] - expected) < 1e-5)
    }

    @Test func scheduleWarmsUpThenFollowsACosine() {
        let schedule = LearningRateSchedule(peak: 1, warmupSteps: 4, totalSteps: 14, minRatio: 0.1)
        #expect(schedule.rate(at: 0) == 0.25)
        #expect(schedule.rate(at: 3) == 1)
        #expect(abs(schedule.rate(at: 4) - 1) < 1e-6)
        #expect(abs(schedule.rate(at: 13) - 0.1) < 1e-6)
        #expect(abs(schedule.rate(at: 8) - (0.1 + 0.9 * 0.5 * (1 + cos(Float.pi * 4 / 9)))) < 1e-6)
    }

    @Test func clippingScalesToTheMaximumNorm() {
        var g: [Float] = [3, 4]
        #expect(GradientClipping.clip(&g, maxNorm: 1) == 5)
        #expect(abs(g[0] - 0.6) < 1e-5 && abs(g[1] - 0.8) < 1e-5)
        var small: [Float] = [0.3, 0.4]
        GradientClipping.clip(&small, maxNorm: 1)
        #expect(small == [0.3, 0.4])
    }
}
