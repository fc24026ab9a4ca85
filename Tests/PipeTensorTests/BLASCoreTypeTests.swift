import PipeTensor
import Testing

/// When `pipe run` forces OpenBLAS's AVX-512 kernels.
struct BLASCoreTypeTests {
    static let avx512 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq\n"
    static let avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"

    @Test func forcedOnlyOnAVX512AndNeverOverTheUser() {
        #expect(BLASCoreType.override(cpuInfo: Self.avx512, environment: [:]) == "SkylakeX")
        #expect(BLASCoreType.override(cpuInfo: Self.avx2, environment: [:]) == nil)
        #expect(BLASCoreType.override(cpuInfo: Self.avx512, environment: ["OPENBLAS_CORETYPE": "Haswell"]) == nil)
        #expect(BLASCoreType.override(cpuInfo: Self.avx512, environment: ["PIPE_BLAS_REEXEC": "1"]) == nil, "never twice")
        #expect(BLASCoreType.override(cpuInfo: "flags : avx512fx\n", environment: [:]) == nil, "a whole flag, not a prefix")
        #expect(BLASCoreType.override(cpuInfo: "", environment: [:]) == nil)
    }

    @Test func oneOpenBLASThreadUnlessTheUserChose() {
        #expect(BLASCoreType.settings(cpuInfo: Self.avx2, environment: [:]) == ["OPENBLAS_NUM_THREADS": "1"])
        #expect(BLASCoreType.settings(cpuInfo: Self.avx512, environment: [:]) == ["OPENBLAS_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "SkylakeX"])
        #expect(BLASCoreType.settings(cpuInfo: Self.avx2, environment: ["OPENBLAS_NUM_THREADS": "2"]).isEmpty)
        #expect(BLASCoreType.settings(cpuInfo: Self.avx512, environment: ["PIPE_BLAS_REEXEC": "1"]).isEmpty, "never twice")
    }

    @Test func theBenchmarkTakesTheCoreTypeAlone() {
        #expect(BLASCoreType.settings(cpuInfo: Self.avx512, environment: [:], coreTypeOnly: true) == ["OPENBLAS_CORETYPE": "SkylakeX"])
        #expect(BLASCoreType.settings(cpuInfo: Self.avx2, environment: [:], coreTypeOnly: true).isEmpty)
        #expect(BLASCoreType.settings(cpuInfo: Self.avx512, environment: ["OPENBLAS_CORETYPE": "Haswell"], coreTypeOnly: true).isEmpty)
    }

    @Test func aClusterJobDropsOnlyWhatTheReexecutionSet() {
        #expect(BLASCoreType.inheritedSettings(environment: [:]).isEmpty)
        #expect(BLASCoreType.inheritedSettings(environment: ["PIPE_BLAS_REEXEC": "OPENBLAS_CORETYPE,OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE": "SkylakeX"])
                == ["OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "PIPE_BLAS_REEXEC"])
        // The user's own OPENBLAS_NUM_THREADS=4 was kept by the re-execution and stays.
        #expect(BLASCoreType.inheritedSettings(environment: ["PIPE_BLAS_REEXEC": "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS": "4"])
                == ["OPENBLAS_CORETYPE", "PIPE_BLAS_REEXEC"])
    }
}
