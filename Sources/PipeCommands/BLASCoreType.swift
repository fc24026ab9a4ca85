import Foundation

/// OpenBLAS 0.3.21 (Debian 12's) does not recognise AVX-512 CPUs and falls back to its AVX2
/// kernels; forcing `OPENBLAS_CORETYPE=SkylakeX` there roughly doubles sgemm. OpenBLAS reads the
/// variable when it loads, before `main`, so `pipe run` re-executes itself once with it set, on CPUs
/// that report `avx512f` only (those kernels crash elsewhere), and never when the user set it.
public enum BLASCoreType {
    /// The core type to force, or nil to leave OpenBLAS's choice.
    public static func override(cpuInfo: String, environment: [String: String]) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["PIPE_BLAS_REEXEC"] == nil else { return nil }
        guard let flags = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        return flags.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains("avx512f") ? "SkylakeX" : nil
    }

    /// Re-executes the process with the override when one applies (only for `run`, which may train).
    public static func reexecIfNeeded(arguments: [String] = CommandLine.arguments) {
        guard arguments.count > 1, arguments[1] == "run",
              let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let coreType = override(cpuInfo: cpuInfo, environment: ProcessInfo.processInfo.environment) else { return }
        setenv("OPENBLAS_CORETYPE", coreType, 1)
        setenv("PIPE_BLAS_REEXEC", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: it failed; carry on with OpenBLAS's own choice.
    }
}
