import Foundation
import PipeLedger
import PipeTestSupport
import Testing

/// `--executor slurm` where no cluster answers: the hint names the cause, and an attempt that
/// submitted nothing leaves no run in the ledger and no job log folder.
@Suite(.serialized) struct SlurmSetupTests {
    static let recipe = """
        pipe: 1
        name: one
        stages:
          a:
            kind: command
            command: echo a > "$PIPE_OUT/a.txt"
        """

    /// Runs the recipe on Slurm with `environment`; checks exit code 2, nothing recorded or created, and returns stderr.
    static func refused(_ project: CLIProject, environment: [String: String]) throws -> String {
        try project.directory.write("one.yaml", recipe)
        let run = try project.pipe("run", "one.yaml", "--executor", "slurm", environment: environment)
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/slurm"), "no job log folder")
        let runs = try project.pipe("runs")
        #expect(!runs.stdout.contains("one"), "no run is recorded: \(runs.stdout)")
        return run.stderr
    }

    @Test func withoutAConfigurationTheHintSaysSoAndNamesTheTryOutCluster() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sbatch"), !FileManager.default.fileExists(atPath: "/etc/slurm/slurm.conf") else { return }
        let project = try CLIProject()
        guard ProcessInfo.processInfo.environment["SLURM_CONF"] == nil else { return }
        let stderr = try Self.refused(project, environment: [:])
        #expect(stderr.contains("Could not establish a configuration source"), "\(stderr)")
        #expect(stderr.contains("hint: sbatch finds no Slurm configuration: set SLURM_CONF") && stderr.contains("scripts/slurm-single-node.sh start DIR"),
                "\(stderr)")
        #expect(!stderr.contains("partition"), "the hint does not point at partitions: \(stderr)")
    }

    @Test(arguments: ["/nope/slurm.conf", ""]) func aMissingConfigurationFileIsNamedAtOnce(file: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sbatch") else { return }
        let project = try CLIProject()
        let stderr = try Self.refused(project, environment: ["SLURM_CONF": file])
        #expect(stderr.contains("SLURM_CONF=\(file): no such file") && stderr.contains("scripts/slurm-single-node.sh start DIR"), "\(stderr)")
    }

    @Test func aStoppedControllerIsNamedAsTheCause() throws {
        let cluster = try SlurmCluster()
        cluster.stop()
        let project = try CLIProject()
        let stderr = try Self.refused(project, environment: cluster.environment)
        #expect(stderr.contains("Unable to contact slurm controller") && stderr.contains("hint: sbatch cannot reach the Slurm controller"), "\(stderr)")
    }
}
