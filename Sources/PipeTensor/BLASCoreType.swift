import Foundation

/// OpenBLAS 0.3.21 (Debian 12's) does not recognise recent AVX-512 CPUs and falls back to older
/// kernels (Haswell's AVX2, or Prescott's SSE3 for a CPU it cannot identify at all, as on a Xeon
/// that reports only `Intel(R) Xeon(R) Processor`); forcing `OPENBLAS_CORETYPE=SkylakeX` there
/// doubles sgemm or more. OpenBLAS reads the variable when it loads, before `main`, so `pipe run`
/// (and the training benchmark) re-executes itself once with it set, on CPUs that report `avx512f`
/// only (those kernels crash elsewhere), and never when the user set it.
///
/// It also sets `OPENBLAS_NUM_THREADS=1` (unless the user set it): the built-in stages call BLAS
/// from their own worker threads, one sgemm per thread, and with OpenBLAS's thread pool started
/// (it starts one per core when it loads) concurrent callers corrupted the heap now and then
/// (12 of 960 short training runs under load aborted; 0 of 960 with the pool off).
public enum BLASCoreType {
    /// The environment `pipe` re-executes itself with: the core type (see `override`) and one
    /// OpenBLAS thread, each only when the user has not set it; empty when nothing applies. With
    /// `coreTypeOnly`, the core type alone.
    public static func settings(cpuInfo: String, environment: [String: String], coreTypeOnly: Bool = false) -> [String: String] {
        guard environment["PIPE_BLAS_REEXEC"] == nil else { return [:] }
        var settings: [String: String] = [:]
        if let coreType = override(cpuInfo: cpuInfo, environment: environment) { settings["OPENBLAS_CORETYPE"] = coreType }
        if environment["OPENBLAS_NUM_THREADS"] == nil, !coreTypeOnly { settings["OPENBLAS_NUM_THREADS"] = "1" }
        return settings
    }

    /// The core type to force, or nil to leave OpenBLAS's choice.
    public static func override(cpuInfo: String, environment: [String: String]) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["PIPE_BLAS_REEXEC"] == nil else { return nil }
        guard let flags = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        return flags.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains("avx512f") ? "SkylakeX" : nil
    }

    /// The variables this process's re-execution set (not the user), and the marker itself: what
    /// another machine's `pipe` must not inherit.
    public static func inheritedSettings(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        guard let marker = environment["PIPE_BLAS_REEXEC"] else { return [] }
        return marker.split(separator: ",").map(String.init).filter { $0.hasPrefix("OPENBLAS_") } + ["PIPE_BLAS_REEXEC"]
    }

    /// Re-executes the process with `settings` when any apply (only for `run`, `ablate`, `audit` and `exec-stage`, which may train).
    public static func reexecIfNeeded(arguments: [String] = CommandLine.arguments) {
        guard arguments.count > 1, ["run", "ablate", "audit", "exec-stage"].contains(arguments[1]) else { return }
        reexec()
    }

    /// Re-executes the process with `settings` when any apply, whatever its arguments (a program
    /// that always trains, such as the training benchmark); `coreTypeOnly` leaves OpenBLAS's thread
    /// count alone (the benchmark measures OpenBLAS's own threads too).
    public static func reexec(coreTypeOnly: Bool = false) {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let settings = settings(cpuInfo: cpuInfo, environment: ProcessInfo.processInfo.environment, coreTypeOnly: coreTypeOnly)
        guard !settings.isEmpty else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        // The names set here, so that a cluster job (which inherits this environment) can drop them
        // and let its own node decide.
        setenv("PIPE_BLAS_REEXEC", settings.keys.sorted().joined(separator: ","), 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returned: it failed; carry on with OpenBLAS's own choice.
    }
}
