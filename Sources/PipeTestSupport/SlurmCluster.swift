import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real single-node Slurm cluster on this machine for the executor tests, started and stopped
/// by `scripts/slurm-single-node.sh` (the script the README gives users for trying pipe on Slurm,
/// so the two cannot drift): munged, slurmctld and slurmd from Debian's `slurm-wlm` and `munge`,
/// configured in a temporary directory (`SLURM_CONF`) on free loopback ports. Needs root (slurmd
/// does). Stopped on `stop()` or deinit.
public final class SlurmCluster {
    /// The environment a `pipe` or Slurm command needs to reach this cluster.
    public var environment: [String: String] { ["SLURM_CONF": configuration] }
    public let configuration: String
    /// The node's CPUs (all of this machine's).
    public let cpus: Int
    private let directory: TemporaryDirectory
    private var running = false

    static func locate(_ name: String) -> String? {
        ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The repository's `scripts/slurm-single-node.sh`.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/slurm-single-node.sh").path

    public init() throws {
        guard Self.locate("munged") != nil, Self.locate("slurmctld") != nil, Self.locate("slurmd") != nil, Self.locate("sinfo") != nil else {
            throw BackgroundProcess.Unavailable("Slurm is not installed; `make test` installs it (apt-get install slurm-wlm munge)")
        }
        guard getuid() == 0 else { throw BackgroundProcess.Unavailable("a test Slurm cluster needs root (slurmd runs jobs as their user)") }
        directory = try TemporaryDirectory("slurm")
        configuration = directory.path + "/cluster/slurm.conf"
        cpus = ProcessInfo.processInfo.activeProcessorCount
        let started = BackgroundProcess.run("/bin/bash", ["-c", "exec bash \"$0\" start \"$1\" 2>&1", Self.script, directory.path + "/cluster"])
        guard started.status == 0 else {
            throw BackgroundProcess.Unavailable("the test Slurm cluster did not come up: \(started.output)")
        }
        running = true
    }

    deinit { stop() }

    /// Every job the controller knows: id -> state (`COMPLETED`, `CANCELLED`, ...).
    public func jobs() -> [String: String] {
        guard let squeue = Self.locate("squeue") else { return [:] }
        var variables = ProcessInfo.processInfo.environment
        variables["SLURM_CONF"] = configuration
        let output = BackgroundProcess.run(squeue, ["--noheader", "--states=all", "--format=%i|%T"], environment: variables).output
        var jobs: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.count == 2 { jobs[fields[0]] = fields[1] }
        }
        return jobs
    }

    /// Stops the cluster as an administrator would (`scontrol shutdown`: controller and node),
    /// then munged.
    public func stop() {
        guard running else { return }
        running = false
        _ = BackgroundProcess.run("/bin/bash", [Self.script, "stop", directory.path + "/cluster"])
    }
}
