import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real single-node Slurm cluster on this machine for the executor tests: munged, slurmctld and
/// slurmd from Debian's `slurm-wlm` and `munge` (which `make test` installs), in the foreground,
/// configured in a temporary directory (`SLURM_CONF`) on free loopback ports, with
/// `proctrack/linuxproc` and `task/none`. Needs root (slurmd does). Stopped on `stop()` or deinit.
public final class SlurmCluster {
    /// The environment a `pipe` or Slurm command needs to reach this cluster.
    public var environment: [String: String] { ["SLURM_CONF": configuration] }
    public let configuration: String
    /// The node's CPUs (all of this machine's).
    public let cpus: Int
    private let directory: TemporaryDirectory
    private var daemons: [BackgroundProcess] = []

    static func locate(_ name: String) -> String? {
        ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public init() throws {
        guard let munged = Self.locate("munged"), let slurmctld = Self.locate("slurmctld"), let slurmd = Self.locate("slurmd"),
              Self.locate("sinfo") != nil else {
            throw BackgroundProcess.Unavailable("Slurm is not installed; `make test` installs it (apt-get install slurm-wlm munge)")
        }
        guard getuid() == 0 else { throw BackgroundProcess.Unavailable("a test Slurm cluster needs root (slurmd runs jobs as their user)") }
        directory = try TemporaryDirectory("slurm")
        let root = directory.path
        for sub in ["state", "spool", "log", "munge"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        // munged wants its socket's directory (and those above it) not writable by others.
        chmod(root, 0o755)
        chmod(root + "/munge", 0o755)
        var key = [UInt8](repeating: 0, count: 1024)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        _ = FileManager.default.createFile(atPath: root + "/munge.key", contents: Data(key), attributes: [.posixPermissions: 0o400])
        cpus = ProcessInfo.processInfo.activeProcessorCount
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        // slurmd finds its node by the short host name.
        let host = String(cString: name).split(separator: ".").first.map(String.init) ?? "localhost"
        let socket = root + "/munge/munge.socket"
        configuration = root + "/slurm.conf"
        let controllerPort = try WebDAVServer.freePort(), nodePort = try WebDAVServer.freePort()
        let text = """
        ClusterName=pipetest
        SlurmctldHost=\(host)(127.0.0.1)
        SlurmctldPort=\(controllerPort)
        SlurmdPort=\(nodePort)
        SlurmUser=root
        AuthType=auth/munge
        AuthInfo=socket=\(socket)
        StateSaveLocation=\(root)/state
        SlurmdSpoolDir=\(root)/spool
        SlurmctldPidFile=\(root)/slurmctld.pid
        SlurmdPidFile=\(root)/slurmd.pid
        SlurmctldLogFile=\(root)/log/slurmctld.log
        SlurmdLogFile=\(root)/log/slurmd.log
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        SchedulerParameters=sched_interval=1
        MpiDefault=none
        ReturnToService=2
        JobCompType=jobcomp/none
        NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(cpus) RealMemory=1000 State=UNKNOWN
        PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
        """
        try text.write(toFile: configuration, atomically: true, encoding: .utf8)
        var variables = ProcessInfo.processInfo.environment
        variables["SLURM_CONF"] = configuration
        let mungeDaemon = try BackgroundProcess(munged, ["--foreground", "--socket=\(socket)", "--key-file=\(root)/munge.key",
                                                         "--pid-file=\(root)/munged.pid", "--log-file=\(root)/log/munged.log",
                                                         "--seed-file=\(root)/munge.seed", "--force"], log: root + "/log/munged.out")
        daemons.append(mungeDaemon)
        guard mungeDaemon.wait(timeout: 10, until: { FileManager.default.fileExists(atPath: socket) }) else {
            let tail = mungeDaemon.logTail()
            stop()
            throw BackgroundProcess.Unavailable("munged did not start: \(tail)")
        }
        daemons.append(try BackgroundProcess(slurmctld, ["-D", "-c", "-f", configuration], log: root + "/log/slurmctld.out", environment: variables))
        daemons.append(try BackgroundProcess(slurmd, ["-D", "-f", configuration], log: root + "/log/slurmd.out", environment: variables))
        // Ready when the node is idle (registered with the controller).
        let ready = daemons[1].wait(timeout: 30) {
            BackgroundProcess.run(Self.locate("sinfo")!, ["--noheader", "--format=%T"], environment: variables).output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "idle"
        }
        guard ready else {
            let logs = ["slurmctld.log", "slurmd.log"].map { (try? String(contentsOfFile: root + "/log/" + $0, encoding: .utf8)).map { String($0.suffix(400)) } ?? "" }
            stop()
            throw BackgroundProcess.Unavailable("the test Slurm cluster did not come up: \(logs.joined(separator: "\n"))")
        }
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
        guard !daemons.isEmpty else { return }
        if daemons.count == 3, let scontrol = Self.locate("scontrol") {
            var variables = ProcessInfo.processInfo.environment
            variables["SLURM_CONF"] = configuration
            _ = BackgroundProcess.run(scontrol, ["shutdown"], environment: variables)
            _ = daemons[1].wait(timeout: 10) { !daemons[1].isRunning && !daemons[2].isRunning }
        }
        for daemon in daemons.reversed() { daemon.stop() }
        daemons = []
    }
}
