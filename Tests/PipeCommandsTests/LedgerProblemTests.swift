import Foundation
import PipeTestSupport
import Testing

/// A ledger that is locked, damaged or not writable: told in words, with a way out, and the cache
/// still usable.
struct LedgerProblemTests {
    static func runChain(_ project: CLIProject) throws {
        let run = try project.pipe("run", "chain.yaml")
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test func aLockedLedgerIsWaitedForThenReportedInWords() throws {
        let project = try CLIProject()
        try Self.runChain(project)
        // Another process holds the write lock (as a running pipe does while it records).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(15)
            """, project.path + "/artifacts/ledger.sqlite"]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))

        let run = try project.pipe("run", "chain.yaml", "--set", "params.greeting=hi", environment: ["PIPE_LEDGER_TIMEOUT": "1"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("the run ledger \(project.path)/artifacts/ledger.sqlite is locked by another pipe process (waited 1 s)"), "\(run.stderr)")
        #expect(!run.stderr.contains("SQLite error"), "\(run.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: project.path + "/artifacts/tmp")) ?? []).isEmpty)
        // Readers are not blocked by a writer.
        #expect(try project.pipe("runs").status == 0)
    }

    @Test func aDamagedLedgerSaysHowToMoveItAsideAndTheCacheStaysValid() throws {
        let project = try CLIProject()
        try Self.runChain(project)
        let ledger = project.path + "/artifacts/ledger.sqlite"
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ledger + suffix) }
        try Data(String(repeating: "this is not a database\n", count: 200).utf8).write(to: URL(fileURLWithPath: ledger))

        for arguments in [["runs"], ["run", "chain.yaml"]] {
            let run = try PipeBinary.run(arguments, in: project.path)
            #expect(run.status == 2, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("error: the run ledger \(ledger) is damaged: "), "\(run.stderr)")
            #expect(!run.stderr.contains("SQLite error"), "\(run.stderr)")
        }
        // The hint's command, as given, moves it aside; the next run finds every stage in the cache.
        let run = try project.pipe("runs")
        let command = try #require(run.stderr.split(separator: "\n").first { $0.contains("mkdir ") }).split(separator: ":", maxSplits: 2).last!
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", String(command)]
        try shell.run()
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: project.path + "/artifacts/ledger.damaged/ledger.sqlite"))
        let again = try project.pipe("run", "chain.yaml")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("3 stages: 0 ran, 3 cached"), "\(again.stdout)")
    }

    @Test func aCacheTheUserCannotWriteCanStillBeRead() throws {
        let project = try CLIProject()
        try Self.runChain(project)
        let cache = project.path + "/artifacts"
        let output = try TemporaryDirectory("out")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: output.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.path)
        try Self.shell("chmod -R a-w '\(cache)' && chmod -R a+rX '\(project.path)'")
        defer { try? Self.shell("chmod -R u+w '\(cache)'") }

        // As a user who cannot write the cache (root could): `runs`, `get` and `status` read it.
        let asNobody = geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "nobody", "--"] : []
        for arguments in [["runs", "--cache", cache], ["get", "latest", "count", "--cache", cache, "--out", output.path + "/count"],
                          ["status", "chain.yaml", "--cache", cache]] {
            let run = try Self.run(asNobody + [PipeBinary.path] + arguments, in: project.path)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(!run.stderr.contains("error"), "\(arguments): \(run.stderr)")
            if arguments[0] == "runs" { #expect(run.stdout.contains("chain"), "\(run.stdout)") }
        }
        #expect(FileManager.default.fileExists(atPath: output.path + "/count/count.txt"))
    }

    static func shell(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        try process.run()
        process.waitUntilExit()
    }

    static func run(_ arguments: [String], in directory: String) throws -> PipeBinary.Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["PIPE_CACHE"] = nil
        environment["TERM"] = "dumb"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return PipeBinary.finish(process, out, err)
    }
}
