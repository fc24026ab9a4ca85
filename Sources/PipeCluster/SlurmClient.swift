import Foundation

/// The Slurm commands `pipe` uses, run as the user would run them: `sbatch` to submit, `squeue` to
/// follow, `scancel` to cancel. `SLURM_CONF` and the rest of the environment pass through.
public struct SlurmClient: Sendable {
    /// A job as `squeue` reports it.
    public struct JobState: Sendable, Equatable {
        /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `OUT_OF_MEMORY`, ...
        public var state: String
        /// Why it is in that state (`Dependency`, `NonZeroExitCode`, `DependencyNeverSatisfied`, ...).
        public var reason: String

        public init(state: String, reason: String) {
            self.state = state
            self.reason = reason
        }

        public var isPending: Bool { ["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED"].contains(state) }
        public var isRunning: Bool { ["RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"].contains(state) }
        public var isCompleted: Bool { state == "COMPLETED" }
        /// Finished without success (failed, cancelled, timed out, out of memory, node failure...).
        public var isFailed: Bool { !isPending && !isRunning && !isCompleted }
    }

    /// A Slurm command that failed, with what it printed and, where the cause is known, what to do.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public var hint: String?

        public init(description: String, hint: String? = nil) {
            self.description = description
            self.hint = hint
        }
    }

    /// What to do about an `sbatch` that failed with `message`: the cause when Slurm's words name it
    /// (no configuration, no controller), else where submission settings live.
    public static func hint(forSubmission message: String) -> String {
        if message.contains("Could not establish a configuration source") || message.contains("No such file or directory") && message.contains("slurm.conf") {
            return "sbatch finds no Slurm configuration: set SLURM_CONF to the cluster's slurm.conf, or run pipe on the cluster's "
                + "login node; to try pipe on this machine, start a single-node cluster with `scripts/slurm-single-node.sh start DIR`"
        }
        if ["Unable to contact slurm controller", "Unable to establish control machine", "Connection refused", "Socket timed out",
            "Zero Bytes were transmitted"].contains(where: message.contains) {
            return "sbatch cannot reach the Slurm controller (is slurmctld running? `scontrol ping` says; SLURM_CONF names the cluster)"
        }
        return "check `executor:` in pipe.yaml and the stages' `resources:` (partition, memory, time)"
    }

    /// Directories searched for the Slurm commands (`PATH`).
    let searchPath: [String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        searchPath = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
    }

    /// The path of a Slurm command, or nil when it is not installed here.
    public func locate(_ command: String) -> String? {
        searchPath.map { $0 + "/" + command }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Submits `script` (read by `sbatch` from its standard input) with `options`; returns the job id.
    public func submit(script: String, options: [String]) throws -> String {
        let output = try run("sbatch", ["--parsable"] + options, input: script)
        guard output.status == 0 else {
            throw Failure(description: "sbatch failed: \(output.message)", hint: Self.hint(forSubmission: output.message))
        }
        // `--parsable` prints `ID` or `ID;CLUSTER`.
        let id = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else { throw Failure(description: "sbatch printed no job id: \(output.message)") }
        return id
    }

    /// The states of `ids` that the controller still knows (finished jobs stay for `MinJobAge`).
    public func states(of ids: [String]) throws -> [String: JobState] {
        guard !ids.isEmpty else { return [:] }
        let output = try run("squeue", ["--noheader", "--states=all", "--jobs=" + ids.joined(separator: ","), "--format=%i|%T|%r"], input: nil)
        if output.status != 0 {
            // Every id is unknown (purged): no states, not an error.
            if output.stderr.contains("Invalid job id") { return [:] }
            throw Failure(description: "squeue failed: \(output.message)")
        }
        var states: [String: JobState] = [:]
        for line in output.stdout.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 3 else { continue }
            states[fields[0]] = JobState(state: fields[1], reason: fields[2])
        }
        return states
    }

    /// Cancels `ids` (jobs already finished are ignored by Slurm).
    public func cancel(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        _ = try? run("scancel", ids, input: nil)
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var message: String {
            let text = (stderr.isEmpty ? stdout : stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "exit status \(status)" : text
        }
    }

    func run(_ command: String, _ arguments: [String], input: String?) throws -> Output {
        guard let path = locate(command) else {
            throw Failure(description: "`\(command)` is not installed on this machine (searched PATH)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        do {
            try process.run()
        } catch {
            throw Failure(description: "cannot start \(path): \(error)")
        }
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        let group = DispatchGroup()
        nonisolated(unsafe) var stderr = Data()
        group.enter()
        DispatchQueue.global().async {
            stderr = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}
