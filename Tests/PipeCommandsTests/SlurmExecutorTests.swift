import Foundation
import PipeLedger
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `--executor slurm` against a real single-node Slurm cluster started for each test: the DAG as
/// jobs with afterok edges, failures with their log tails, Ctrl-C cancelling the jobs, a cached
/// second run submitting nothing, `pipe ablate` on the cluster, and bad settings refused.
@Suite(.serialized) struct SlurmExecutorTests {
    static let diamond = """
    pipe: 1
    name: diamond
    stages:
      a:
        kind: command
        command: echo a > "$PIPE_OUT/a.txt"
      b:
        kind: command
        inputs: {a: a}
        command: date +%s.%N > "$PIPE_OUT/start"; sleep 2; cat "$PIPE_IN_a/a.txt" > "$PIPE_OUT/b.txt"; date +%s.%N > "$PIPE_OUT/end"
        resources: {cpus: 1, memory: 100M, time: 5}
      c:
        kind: command
        inputs: {a: a}
        command: date +%s.%N > "$PIPE_OUT/start"; sleep 2; echo c > "$PIPE_OUT/c.txt"; date +%s.%N > "$PIPE_OUT/end"
      d:
        kind: command
        inputs: {b: b, c: c}
        command: cat "$PIPE_IN_b/b.txt" "$PIPE_IN_c/c.txt" > "$PIPE_OUT/d.txt"

    """

    @Test func aStagesProgressOnANodeShowsInTheSubmittingRunsLine() throws {
        let cluster = try SlurmCluster()
        let project = try CLIProject()
        try project.directory.write("steps.yaml", ProgressLineTests.recipe)
        let redraws = ProgressLineTests.redraws(try ProgressLineTests.runOnATerminal(project, columns: 200, options: "--executor slurm",
                                                                                    environment: cluster.environment))
        #expect(redraws.contains { $0.contains("train") && $0.contains("(step ") && $0.contains("/8 loss 0.") }, "\(redraws)")
        // The node wrote it beside the job's log.
        #expect(FileManager.default.fileExists(atPath: project.path + "/artifacts/slurm/run-1/train.progress"))
    }

    @Test func aDiamondRunsOnTheClusterWithIndependentStagesAtOnceAndASecondRunSubmitsNothing() throws {
        let cluster = try SlurmCluster()
        let project = try CLIProject()
        try project.directory.write("diamond.yaml", Self.diamond)
        let run = try project.pipe("run", "diamond.yaml", "--executor", "slurm", environment: cluster.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("4 ran, 0 cached"), "\(run.stdout)")
        #expect(run.stderr.contains("submitted 4 stages to Slurm; logs in \(project.path)/artifacts/slurm/run-1"), "\(run.stderr)")
        #expect(run.stderr.range(of: #"d: job \d+ \(after \d+, \d+\)"#, options: .regularExpression) != nil, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: project.path + "/artifacts/slurm/run-1/b.log"))
        for stage in ["b", "c", "d"] { #expect(try project.pipe("get", "latest", stage, "--out", stage).status == 0) }
        #expect(project.directory.read("d/d.txt") == "a\nc\n")
        // b and c ran at the same time (the node has 2 CPUs).
        func time(_ file: String) -> Double { Double(project.directory.read(file)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .nan }
        #expect(time("b/start") < time("c/end") && time("c/start") < time("b/end"),
                "b ran \(time("b/start"))...\(time("b/end")), c \(time("c/start"))...\(time("c/end"))")
        // Each stage records the node that executed it, and that node's environment.
        let ledger = try Ledger(path: project.path + "/artifacts/ledger.sqlite")
        let stages = try ledger.stages(ofRun: 1)
        #expect(stages.count == 4 && stages.allSatisfy { $0.environment.contains("\"cpu_features\"") && $0.environment.contains("\"machine\"") },
                "\(stages.map(\.environment))")

        let jobs = cluster.jobs().count
        let again = try project.pipe("run", "diamond.yaml", "--executor", "slurm", environment: cluster.environment)
        #expect(again.status == 0 && again.stdout.contains("0 ran, 4 cached"), "\(again.stdout)")
        #expect(!again.stderr.contains("submitted"), "\(again.stderr)")
        #expect(cluster.jobs().count == jobs)
    }

    @Test func nodesWithTheirOwnCacheShareResultsThroughTheRemote() throws {
        let cluster = try SlurmCluster()
        let project = try CLIProject()
        let remote = try TemporaryDirectory("remote"), nodeCache = try TemporaryDirectory("node-cache")
        try project.directory.write("diamond.yaml", Self.diamond)
        try project.directory.write("pipe.yaml", "remote: \(remote.path)\nexecutor: {type: slurm, poll: 0.2, cache: \(nodeCache.path)}\n")
        let run = try project.pipe("run", "diamond.yaml", environment: cluster.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("remote \(remote.path): 4 results pulled"), "\(run.stdout)")
        #expect(FileManager.default.fileExists(atPath: nodeCache.path + "/objects"), "the nodes used their own cache")
        #expect(try project.pipe("get", "latest", "d", "--out", "d").status == 0)
        #expect(project.directory.read("d/d.txt") == "a\nc\n")
    }

    @Test func aFailingStageFailsTheRunWithItsLogTailAndSkipsItsDependants() throws {
        let cluster = try SlurmCluster()
        let project = try CLIProject()
        try project.directory.write("fail.yaml", """
        pipe: 1
        name: fail
        stages:
          a:
            kind: command
            command: echo a > "$PIPE_OUT/a.txt"
          bad:
            kind: command
            inputs: {a: a}
            command: echo "about to fail"; exit 3
          after:
            kind: command
            inputs: {x: bad}
            command: echo never > "$PIPE_OUT/x"
          other:
            kind: command
            inputs: {a: a}
            command: sleep 1; echo other > "$PIPE_OUT/o"

        """)
        let run = try project.pipe("run", "fail.yaml", "--executor", "slurm", "--keep-going", environment: cluster.environment)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.range(of: #"bad +command +failed .*command exited with status 3 \[Slurm job \d+ FAILED \(NonZeroExitCode\)\]"#,
                                 options: .regularExpression) != nil, "\(run.stdout)")
        #expect(run.stdout.contains("about to fail"), "the log tail: \(run.stdout)")
        #expect(run.stdout.range(of: #"after +command +skipped .*upstream `bad` failed"#, options: .regularExpression) != nil, "\(run.stdout)")
        #expect(run.stdout.range(of: #"other +command +ran"#, options: .regularExpression) != nil, "\(run.stdout)")
        // Slurm cancels the dependant job (or it never starts): nothing of it ran.
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/slurm/run-1/after.result.json"))

        // A partition the cluster does not have: refused at submission, exit 2, nothing left queued.
        let before = cluster.jobs()
        let refused = try project.pipe("run", "fail.yaml", "--executor", "slurm", "--set", "stages.bad.resources.partition=gpu",
                                       environment: cluster.environment)
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("cannot submit stage `bad`") && refused.stderr.contains("partition"), "\(refused.stderr)")
        #expect(cluster.jobs().filter { before[$0.key] == nil && $0.value != "CANCELLED" }.isEmpty, "\(cluster.jobs())")
    }

    @Test func ctrlCCancelsTheSubmittedJobs() throws {
        let cluster = try SlurmCluster()
        let project = try CLIProject()
        try project.directory.write("long.yaml", """
        pipe: 1
        name: long
        stages:
          slow:
            kind: command
            command: sleep 60; echo done > "$PIPE_OUT/x"
          next:
            kind: command
            inputs: {s: slow}
            command: echo next > "$PIPE_OUT/y"

        """)
        try project.directory.write("pipe.yaml", "executor: {type: slurm, poll: 0.2}\n")
        let (process, out, err) = try PipeBinary.start(["run", "long.yaml"], in: project.path, environment: cluster.environment)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !cluster.jobs().values.contains("RUNNING") { usleep(100_000) }
        #expect(cluster.jobs().values.contains("RUNNING"), "\(cluster.jobs())")
        usleep(600_000)   // a few polls: pipe has seen it running
        kill(process.processIdentifier, SIGINT)
        let output = PipeBinary.finish(process, out, err)
        #expect(output.status == 130, "\(output.stdout)\(output.stderr)")
        #expect(output.stderr.contains("cancelled 2 Slurm jobs"), "\(output.stderr)")
        #expect(output.stdout.contains("interrupted (Slurm job"), "\(output.stdout)")
        let settled = Date().addingTimeInterval(15)
        while Date() < settled, cluster.jobs().values.contains(where: { $0 != "CANCELLED" }) { usleep(100_000) }
        #expect(!cluster.jobs().isEmpty && cluster.jobs().values.allSatisfy { $0 == "CANCELLED" }, "\(cluster.jobs())")
    }

    @Test func ablateRunsItsGridOnTheCluster() throws {
        let cluster = try SlurmCluster()
        let project = try CLIProject()
        try project.directory.write("grid.yaml", """
        pipe: 1
        name: grid
        params: {n: 1}
        stages:
          base:
            kind: command
            command: echo base > "$PIPE_OUT/b"
          score:
            kind: command
            inputs: {b: base}
            command: 'printf "{\\"value\\": %s}" ${params.n} > "$PIPE_OUT/metrics.json"'

        """)
        try project.directory.write("grid-experiment.yaml", "recipe: grid.yaml\ngrid:\n  params.n: [1, 2]\ncompare: [score.value]\n")
        try project.directory.write("pipe.yaml", "executor: {type: slurm, poll: 0.2}\n")
        let run = try project.pipe("ablate", "grid-experiment.yaml", environment: cluster.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("submitted 3 stages to Slurm"), "\(run.stderr)")
        #expect(run.stdout.contains("| params.n=1 | 1.0000 | 1 |") && run.stdout.contains("| params.n=2 | 2.0000"), "\(run.stdout)")
    }

    @Test func badExecutorSettingsAreRefusedBeforeAnythingRuns() throws {
        let project = try CLIProject()
        try project.directory.write("diamond.yaml", Self.diamond)
        let typo = try project.pipe("run", "diamond.yaml", "--executor", "slrum")
        #expect(typo.status == 2 && typo.stderr.contains("unknown executor `slrum`") && typo.stderr.contains("did you mean `slurm`"), "\(typo.stderr)")
        let environment = try project.pipe("run", "diamond.yaml", environment: ["PIPE_EXECUTOR": "cluster"])
        #expect(environment.status == 2 && environment.stderr.contains("PIPE_EXECUTOR: unknown executor `cluster`"), "\(environment.stderr)")
        try project.directory.write("pipe.yaml", "executor:\n  type: slurm\n  pol: 1\n")
        let setting = try project.pipe("run", "diamond.yaml")
        #expect(setting.status == 2 && setting.stderr.contains("pipe.yaml:3:3") && setting.stderr.contains("did you mean `poll`"), "\(setting.stderr)")
        try project.directory.write("pipe.yaml", "executor: slurm\n")
        let absent = try project.pipe("run", "diamond.yaml", environment: ["PATH": "/nonexistent"])
        #expect(absent.status == 2 && absent.stderr.contains("`sbatch` and `squeue` are not on PATH"), "\(absent.stderr)")
        let resources = try project.pipe("run", "diamond.yaml", "--set", "stages.b.resources.cpus=0")
        #expect(resources.status == 2 && resources.stderr.contains("stages.b.resources.cpus: expected an integer >= 1"), "\(resources.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"), "nothing is written")
    }

    @Test func aNodeRefusesAStageWhoseRecipeChangedSinceSubmission() throws {
        let project = try CLIProject()
        try project.directory.write("diamond.yaml", Self.diamond)
        let result = project.path + "/a.result.json"
        let run = try project.pipe("exec-stage", "--job", "a", "--material", String(repeating: "0", count: 64), "--result", result,
                                   "--recipe", "diamond.yaml")
        #expect(run.status == 2 && run.stderr.contains("stage `a` is not the one submitted"), "\(run.stderr)")
        let written = project.directory.read("a.result.json") ?? ""
        #expect(written.contains("\"status\" : \"failed\"") && written.contains("not the one submitted"), "\(written)")
        // Its upstream stages must be cached: a node never runs them on its own.
        let upstream = try project.pipe("exec-stage", "--job", "d", "--result", result, "--recipe", "diamond.yaml")
        #expect(upstream.status == 1 && upstream.stderr.contains("this run may not execute it"), "\(upstream.stderr)")
    }
}
