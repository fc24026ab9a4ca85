import Foundation
import PipeStatistics
import Testing

/// The smoothing statistics against reference values. Source: mpmath 1.4.1 at 30 to 50 significant
/// digits (`sqrt(2) * erfinv(2p - 1)`; `betainc(a, b, 0, x, regularized=True)`; the Clopper–Pearson
/// bound by bisection on `betainc`; the binomial test as the exact sum of the outcomes whose
/// probability is at most the observed one's times 1 + 1e-7, as R's `binom.test`). The one case
/// marked SciPy is `scipy.stats.beta.ppf` from SciPy 1.17.1 (Boost's `ibeta_inv`), which agrees
/// with mpmath to 1e-15 on the cases both were run on.
struct StatisticsTests {
    static func close(_ value: Double, _ reference: Double, relative: Double = 1e-9) -> Bool {
        reference == 0 ? abs(value) < 1e-15 : abs(value - reference) <= relative * abs(reference)
    }

    @Test(arguments: [
        (1e-10, -6.3613409024040562047), (1e-6, -4.7534243088228989482), (0.001, -3.0902323061678135415),
        (0.01, -2.3263478740408411009), (0.025, -1.9599639845400542355), (0.1, -1.281551565544600467),
        (0.3, -0.52440051270804078404), (0.5, 0.0), (0.7, 0.52440051270804078404), (0.9, 1.281551565544600467),
        (0.975, 1.9599639845400542355), (0.999, 3.0902323061678135415), (0.999999, 4.7534243088228989482),
    ])
    func normalQuantile(p: Double, reference: Double) {
        let value = Statistics.normalQuantile(p)
        #expect(Self.close(value, reference), "Phi^-1(\(p)) = \(value), reference \(reference), relative error \(abs(value - reference) / max(abs(reference), 1e-300))")
        #expect(Self.close(Statistics.normalCDF(value), p, relative: 1e-12))
    }

    @Test func normalQuantileEdges() {
        #expect(Statistics.normalQuantile(0) == -.infinity && Statistics.normalQuantile(1) == .infinity)
    }

    @Test(arguments: [
        (0.5, 1.0, 1.0, 0.5), (0.1, 2.0, 3.0, 0.0523), (0.9, 2.0, 3.0, 0.9963), (0.3, 0.5, 0.5, 0.36901011956554538276),
        (0.999, 100.0, 1.0, 0.90479214711370904203), (0.01, 1.0, 100.0, 0.63396765872677049507), (0.5, 50.0, 50.0, 0.5),
        (0.45, 500.0, 600.0, 0.38169373366483991539), (0.2, 10.0, 0.7, 4.1558295924418312595e-8),
        (0.75, 3.5, 9.0, 0.99977075679704214589), (0.001, 0.2, 5.0, 0.37110992097338693751), (0.6, 1000.0, 999.0, 0.9999999999999999999),
    ])
    func regularizedBeta(x: Double, a: Double, b: Double, reference: Double) {
        let value = Statistics.regularizedBeta(x, a: a, b: b)
        #expect(Self.close(value, reference), "I_\(x)(\(a), \(b)) = \(value), reference \(reference)")
        // The inverse returns x (where I is not flat at double precision).
        if reference > 1e-12 && reference < 1 - 1e-9 {
            #expect(Self.close(Statistics.inverseRegularizedBeta(reference, a: a, b: b), x, relative: 1e-9))
        }
    }

    @Test(arguments: [
        (1, 1, 0.001, 0.001), (10, 10, 0.001, 0.501187233627272285), (100, 100, 0.001, 0.93325430079699104353),
        (100_000, 100_000, 0.001, 0.99993092483300939297), (99_990, 100_000, 0.001, 0.99975867734359116249),
        (50, 100, 0.05, 0.41362171463091175972), (5, 10, 0.001, 0.089813189811854265922),
        (60_000, 100_000, 0.001, 0.5952010472945846),   // SciPy
        (1, 100, 0.05, 0.000512801416262292102), (99, 100, 0.01, 0.935457267951418358),
        (700, 1000, 0.001, 0.653472035291864339), (3, 4, 0.1, 0.320460583721818325),
    ])
    func clopperPearsonLower(successes: Int, trials: Int, alpha: Double, reference: Double) {
        let value = Statistics.clopperPearsonLower(successes: successes, trials: trials, alpha: alpha)
        #expect(Self.close(value, reference), "pA(\(successes)/\(trials), alpha \(alpha)) = \(value), reference \(reference)")
    }

    @Test func clopperPearsonEdges() {
        // No successes: the bound is 0; all successes: alpha^(1/n) exactly.
        #expect(Statistics.clopperPearsonLower(successes: 0, trials: 1, alpha: 0.001) == 0)
        #expect(Statistics.clopperPearsonLower(successes: 0, trials: 100_000, alpha: 0.001) == 0)
        for n in [1, 7, 1000] {
            #expect(Self.close(Statistics.clopperPearsonLower(successes: n, trials: n, alpha: 0.01), pow(0.01, 1 / Double(n)), relative: 1e-12))
        }
    }

    @Test(arguments: [
        (0, 1, 1.0), (1, 1, 1.0), (5, 10, 1.0), (0, 10, 0.001953125), (3, 10, 0.34375), (9, 10, 0.021484375),
        (30, 100, 0.000078501396455936696229), (45, 100, 0.36820161732669623669), (60, 100, 0.05688793364098079167),
        (50, 100, 1.0), (10, 12, 0.03857421875), (1000, 1900, 0.023108845108901071322), (200, 500, 8.9400665422532673927e-6),
    ])
    func binomialTest(k: Int, n: Int, reference: Double) {
        let value = Statistics.binomialTestTwoSided(k, n: n)
        #expect(Self.close(value, reference), "p(\(k) of \(n)) = \(value), reference \(reference)")
    }
}
