import Foundation
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two processes on one cache, `kill -9`, Ctrl-C and corrupted objects, on the real binary.
@Suite(.serialized)
struct RobustnessTests {
    func executions(_ project: CLIProject) -> [String] {
        (project.directory.read("executions.log") ?? "").split(separator: "\n").map(String.init).sorted()
    }

    func waitFor(_ path: String, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(20_000)
        }
        return false
    }

    func isAlive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    /// The process group of stage `b` of slow.yaml, which writes it to b.pid when it starts (the
    /// file may exist a moment before its number is in it).
    func stageB(_ project: CLIProject) throws -> pid_t {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let pid = Int32((project.directory.read("b.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
            usleep(20_000)
        }
        return try #require(Int32((project.directory.read("b.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func twoProcessesNeverComputeTheSameKeyTwice() throws {
        let project = try CLIProject()
        let first = try PipeBinary.start(["run", "slow.yaml", "-j", "2"], in: project.path)
        let second = try PipeBinary.start(["run", "slow.yaml", "-j", "2"], in: project.path)
        let one = PipeBinary.finish(first.0, first.1, first.2)
        let two = PipeBinary.finish(second.0, second.1, second.2)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(two.status == 0, "\(two.stderr)")
        #expect(executions(project) == ["a", "b", "c", "d"])
        // Between them, each stage ran exactly once.
        let ran = (one.stdout + two.stdout).split(separator: "\n").filter { $0.contains(" ran ") }.count
        #expect(ran == 4, "\(one.stdout)\n\(two.stdout)")
        let verify = try project.pipe("cache", "verify")
        #expect(verify.status == 0)
        #expect(verify.stdout.hasPrefix("cache ok"))
        #expect(try project.pipe("run", "slow.yaml").stdout.contains("0 ran, 4 cached"))
    }

    @Test func killMinus9LeavesACacheThatVerifiesAndTheRerunRedoesOnlyUnfinishedStages() throws {
        let project = try CLIProject()
        try project.directory.write("hold.flag", "")
        let (process, out, err) = try PipeBinary.start(["run", "slow.yaml"], in: project.path)
        #expect(waitFor(project.path + "/b.pid"))
        usleep(100_000)
        kill(process.processIdentifier, SIGKILL)
        // pipe's own output closes with it: the orphaned stage holds none of its descriptors.
        let killed = PipeBinary.finish(process, out, err)
        #expect(killed.status == 9 || killed.status == 137 || killed.status == 128 + 9 || killed.status != 0)
        // The orphaned stage is still sleeping in its own process group; end it.
        let pid = try stageB(project)
        #expect(isAlive(pid))
        kill(-pid, SIGKILL)
        let verify = try project.pipe("cache", "verify")
        #expect(verify.status == 0, "\(verify.stdout)")
        try FileManager.default.removeItem(atPath: project.path + "/hold.flag")
        let rerun = try project.pipe("run", "slow.yaml")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let out2 = CLIProject.normalize(rerun.stdout)
        #expect(out2.contains("a command cached"))
        #expect(out2.contains("b command ran"))
        #expect(out2.contains("d command ran"))
        // a ran once; b twice (killed, then redone).
        #expect(executions(project).filter { $0 == "a" }.count == 1)
        #expect(executions(project).filter { $0 == "b" }.count == 2)
        #expect(try project.pipe("cache", "verify").status == 0)
    }

    @Test func killMinus9OfAStageFailsItCleanly() throws {
        let project = try CLIProject()
        try project.directory.write("hold.flag", "")
        let (process, out, err) = try PipeBinary.start(["run", "slow.yaml"], in: project.path)
        #expect(waitFor(project.path + "/b.pid"))
        let pid = try stageB(project)
        kill(-pid, SIGKILL)
        let result = PipeBinary.finish(process, out, err)
        #expect(result.status == 1)
        #expect(CLIProject.normalize(result.stdout).contains("b command failed TIME command was killed by signal 9"))
        #expect(try project.pipe("cache", "verify").status == 0)
        try FileManager.default.removeItem(atPath: project.path + "/hold.flag")
        let rerun = CLIProject.normalize(try project.pipe("run", "slow.yaml").stdout)
        #expect(rerun.contains("a command cached"))
        #expect(rerun.contains("b command ran"))
    }

    @Test func ctrlCStopsTheChildrenAndExits130() throws {
        let project = try CLIProject()
        try project.directory.write("hold.flag", "")
        let (process, out, err) = try PipeBinary.start(["run", "slow.yaml"], in: project.path)
        #expect(waitFor(project.path + "/b.pid"))
        let pid = try stageB(project)
        kill(process.processIdentifier, SIGINT)
        let result = PipeBinary.finish(process, out, err)
        #expect(result.status == 130)
        #expect(result.stderr.contains("interrupted"))
        usleep(200_000)
        #expect(!isAlive(pid))
        #expect(try project.pipe("cache", "verify").status == 0)
        #expect(try project.pipe("runs").stdout.contains("interrupted"))
    }

    @Test func corruptedObjectIsReportedAndItsStageRecomputed() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        // Scribble over the object holding `make`'s output ("hello\n").
        let objects = project.path + "/artifacts/objects"
        var corrupted = 0
        for prefix in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + prefix) {
                let path = objects + "/" + prefix + "/" + name
                if FileManager.default.contents(atPath: path) == Data("hello\n".utf8) {
                    chmod(path, 0o644)
                    try Data("HACKED\n".utf8).write(to: URL(fileURLWithPath: path))
                    corrupted += 1
                }
            }
        }
        #expect(corrupted == 1)
        let verify = try project.pipe("cache", "verify")
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("does not hash to its name"))
        let rerun = try project.pipe("run", "chain.yaml", "--force", "shout")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let text = CLIProject.normalize(rerun.stdout)
        #expect(text.contains("make command ran TIME cached output corrupted"))
        #expect(text.contains("shout command ran TIME forced"))
        #expect(try project.pipe("cache", "verify").status == 0)
    }

    @Test func gcKeepsWhatRecentRunsUsed() throws {
        let project = try CLIProject()
        try project.pipe("run", "chain.yaml")
        try project.pipe("run", "chain.yaml", "--set", "params.greeting=bye")
        let gc = try project.pipe("cache", "gc", "--keep-last", "1")
        #expect(gc.status == 0)
        #expect(gc.stdout.hasPrefix("kept 3 results"))
        #expect(gc.stdout.hasSuffix("removed 6 unused lock files\n"))
        #expect(try project.pipe("run", "chain.yaml", "--set", "params.greeting=bye").stdout.contains("0 ran, 3 cached"))
        let rerun = try project.pipe("run", "chain.yaml")
        // The last run of `make` had "bye"; the result for "hello" is gone, so it runs again.
        #expect(CLIProject.normalize(rerun.stdout).contains(#"make command ran TIME `command` changed "echo "bye""#))
        let emptied = try project.pipe("cache", "gc", "--keep-last", "0").stdout
        #expect(emptied.hasPrefix("kept 0 results"))
        #expect(emptied.hasSuffix("removed 3 unused lock files\n"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: project.path + "/artifacts/locks")) ?? ["x"]).isEmpty)
        #expect(try project.pipe("run", "chain.yaml").stdout.contains("3 ran, 0 cached"))
        #expect(try project.pipe("cache", "verify").status == 0)
    }
}

/// A full disk, on a 1 MiB tmpfs (needs root, as on CI and the project's machines).
struct FullDiskTests {
    static var canMount: Bool { getuid() == 0 }

    @Test(.enabled(if: canMount)) func fullDiskFailsTheStageAndLeavesTheCacheConsistent() throws {
        let project = try CLIProject()
        let mountPoint = project.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]
        try mount.run()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "cannot mount a tmpfs")
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [mountPoint]
            try? umount.run()
            umount.waitUntilExit()
        }
        try project.directory.write("full.yaml", """
            pipe: 1
            name: full
            stages:
              small:
                kind: command
                command: echo ok > "$PIPE_OUT/ok.txt"
              big:
                kind: command
                inputs: {s: small}
                command: echo writing; head -c 3000000 /dev/zero > "$PIPE_OUT/big.bin"
            """)
        let cache = ["PIPE_CACHE": mountPoint + "/cache"]
        let result = try project.pipe("run", "full.yaml", environment: cache)
        #expect(result.status == 1)
        #expect(CLIProject.normalize(result.stdout).contains("big command failed TIME command exited with status 1"))
        #expect(result.stdout.contains("No space left on device"))
        let verify = try project.pipe("cache", "verify", environment: cache)
        #expect(verify.status == 0, "\(verify.stdout)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: mountPoint + "/cache/tmp")) ?? []).isEmpty)
        // With room again (a smaller output), the next run redoes only the failed stage.
        let rerun = try project.pipe("run", "full.yaml", "--set", "stages.big.command=echo small > \"$PIPE_OUT/b\"", environment: cache)
        #expect(rerun.status == 0)
        #expect(CLIProject.normalize(rerun.stdout).contains("small command cached"))
    }
}
