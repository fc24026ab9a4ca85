import Foundation
import Testing
@testable import PipeTensor

@Suite struct FastMathTests {
    @Test func expMatchesTheLibraryAcrossItsRange() {
        var worst: Double = 0
        for i in 0...20_000 {
            let x = -80 + Float(i) * 0.0084  // -80 ... 88
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - exact) / exact)
        }
        print("fast exp: max relative error \(worst)")
        #expect(worst < 5e-7)
        #expect(FastMath.exp(0) == 1)
    }

    @Test func expClampsAndPassesNaNThrough() {
        #expect(FastMath.exp(-1000) > 0 && FastMath.exp(-1000) < 1e-37, "far below: the clamp at -87")
        #expect(FastMath.exp(1000).isFinite && FastMath.exp(1000) > 1e38, "far above: the clamp at 88, not infinity")
        #expect(FastMath.exp(.nan).isNaN)
        #expect(FastMath.exp(-.infinity) >= 0 && FastMath.exp(.infinity).isFinite)
    }

    @Test func geluSaturatesAndKeepsNaN() {
        var out = [Float](repeating: 0, count: 4)
        GELU.forward(&out, [-30, 30, .nan, 0], count: 4)
        #expect(abs(out[0]) < 1e-6)
        #expect(out[1] == 30)
        #expect(out[2].isNaN, "a NaN activation reaches the loss, which stops the stage")
        #expect(out[3] == 0)
    }
}
