import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PipeEngine

/// Live progress: on a terminal, one redrawn status line under the finished stages; otherwise
/// plain lines as stages start and finish. Cached stages appear only in the summary.
final class ProgressReporter: RunObserver, @unchecked Sendable {
    private let total: Int
    private let interactive = Terminal.isInteractive
    private let lock = NSLock()
    private var running: [String: ContinuousClock.Instant] = [:]
    /// Each running stage's progress file (`$PIPE_PROGRESS`), whose last line is shown.
    private var progressFiles: [String: String] = [:]
    private var finished = 0
    private var timer: DispatchSourceTimer?

    init(total: Int) {
        self.total = total
        if interactive {
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
            timer.setEventHandler { [weak self] in self?.redraw() }
            timer.resume()
            self.timer = timer
        }
    }

    func stageStarted(_ job: String, reason: RunReason) {
        lock.withLock {
            running[job] = .now
            emit("run     \(job): \(reason)")
        }
    }

    func stageProgress(_ job: String, file: String) {
        lock.withLock { progressFiles[job] = file }
    }

    func stageFinished(_ result: StageResult) {
        lock.withLock {
            finished += 1
            running[result.job] = nil
            progressFiles[result.job] = nil
            switch result.status {
            case .cached: if interactive { drawStatus() }
            case .ran: emit("done    \(result.job) (\(Terminal.duration(result.seconds)))")
            case .failed: emit("FAILED  \(result.job) (\(Terminal.duration(result.seconds))): \(result.message ?? "")")
            case .skipped: emit("skip    \(result.job): \(result.message ?? "")")
            case .interrupted: emit("stopped \(result.job)")
            }
        }
    }

    /// A line for the user between the progress lines (job ids, warnings).
    func note(_ line: String) {
        lock.withLock { emit(line) }
    }

    func stop() {
        timer?.cancel()
        lock.withLock { if interactive { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) } }
    }

    private func redraw() { lock.withLock { drawStatus() } }

    /// Called with `lock` held.
    private func emit(_ line: String) {
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1b}[K\(line)\n".utf8))
            drawStatus()
        } else {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Called with `lock` held.
    private func drawStatus() {
        guard interactive else { return }
        let now = ContinuousClock.now
        let active = running.sorted { $0.value < $1.value }.map { name, start in
            "\(name) \(Terminal.duration(Self.seconds(now - start)))" + (progressFiles[name].flatMap(Self.lastLine).map { " (\($0))" } ?? "")
        }
        let line = "[\(finished)/\(total)]" + (active.isEmpty ? "" : " running: " + active.joined(separator: ", "))
        FileHandle.standardError.write(Data("\r\u{1b}[K\(Terminal.fitted(line, columns: Terminal.columns))".utf8))
    }

    /// The last non-empty line of a progress file (its last 512 bytes are read), printable
    /// characters only; nil when there is none or it is not a regular file (a stage may have put
    /// a FIFO there: it is opened without blocking and left alone).
    static func lastLine(of file: String) -> String? {
        let fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let offset = max(Int(info.st_size) - 512, 0)
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 512, off_t(offset)) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).last else { return nil }
        let printable = String(String.UnicodeScalarView(line.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }))
        let trimmed = printable.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// The table at the end of a run.
enum Summary {
    static func print(_ results: [StageResult], seconds: Double, runId: Int64, cacheRoot: String) {
        let notable = results.filter { $0.status != .cached }
        let shown = results.count <= 40 ? results : notable
        let rows = shown.map { result -> [String] in
            let note: String
            switch result.status {
            case .cached: note = result.computedElsewhere ? "computed by another run" : ""
            case .ran: note = result.reason?.description ?? ""
            default: note = result.message ?? ""
            }
            let time = result.status == .cached || result.status == .skipped ? "-" : Terminal.duration(result.seconds)
            return [result.job, result.kind, result.status.rawValue, time, note]
        }
        if !rows.isEmpty { Swift.print(Terminal.table(["stage", "kind", "status", "time", "note"], rows)) }
        if shown.count < results.count { Swift.print("(\(results.count - shown.count) cached stages not listed)") }
        for result in results where result.status == .failed && !result.logTail.isEmpty {
            Swift.print("\n--- last lines of \(result.job)'s log ---")
            for line in result.logTail { Swift.print("  " + line) }
        }
        func count(_ status: StageResult.Status) -> Int { results.filter { $0.status == status }.count }
        var parts = ["\(count(.ran)) ran", "\(count(.cached)) cached"]
        if count(.failed) > 0 { parts.append("\(count(.failed)) failed") }
        if count(.skipped) > 0 { parts.append("\(count(.skipped)) skipped") }
        if count(.interrupted) > 0 { parts.append("\(count(.interrupted)) interrupted") }
        Swift.print("run \(runId): \(results.count) stages: \(parts.joined(separator: ", ")) in \(Terminal.duration(seconds))")
    }
}
