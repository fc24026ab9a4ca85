import COpenBLAS
import Foundation

/// Row-major single-precision matrix products on OpenBLAS, and its thread setting.
public enum BLAS {
    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, every matrix row-major with the
    /// given leading dimensions (row strides); op transposes when asked.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard BLASProfile.enabled else {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            return
        }
        let start = BLASProfile.now()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        BLASProfile.record(seconds: BLASProfile.now() - start, flops: 2 * Double(m) * Double(n) * Double(k))
    }

    /// y[m or n] = alpha * op(A) . x + beta * y, A (m, n) row-major with leading dimension lda.
    @inline(__always)
    public static func gemv(trans: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        guard BLASProfile.enabled else {
            cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
            return
        }
        let start = BLASProfile.now()
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
        BLASProfile.record(seconds: BLASProfile.now() - start, flops: 2 * Double(m) * Double(n))
    }

    /// OpenBLAS's own thread count for every later call in this process.
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }

    /// The kernel family OpenBLAS chose for this CPU (e.g. "Haswell", "SkylakeX").
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// OpenBLAS's build description ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64").
    public static var configuration: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }

    /// OpenBLAS's own thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}

/// Time and work inside BLAS calls, for the benchmark (off by default; costs two clock reads per call when on).
public enum BLASProfile {
    public static var enabled = false
    private static let lock = NSLock()
    private static var totalSeconds = 0.0
    private static var totalFlops = 0.0
    private static var totalCalls = 0

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    static func record(seconds: Double, flops: Double) {
        lock.lock()
        totalSeconds += seconds
        totalFlops += flops
        totalCalls += 1
        lock.unlock()
    }

    public static func reset() {
        lock.lock()
        (totalSeconds, totalFlops, totalCalls) = (0, 0, 0)
        lock.unlock()
    }

    /// (seconds inside BLAS, floating-point operations, calls) since the last reset.
    public static var totals: (seconds: Double, flops: Double, calls: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (totalSeconds, totalFlops, totalCalls)
    }
}
