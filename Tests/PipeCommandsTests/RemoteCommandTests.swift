import Foundation
import PipeTestSupport
import Testing

/// Team caches through the CLI: `remote:` in pipe.yaml (or PIPE_REMOTE), read-through and
/// write-through in `pipe run`, `pipe cache push|pull|status`, and bad settings refused.
struct RemoteCommandTests {
    @Test func aColleaguesRunIsACacheHitThroughASharedDirectory() throws {
        let shared = try TemporaryDirectory("shared-cache")
        let me = try CLIProject(), colleague = try CLIProject()
        try me.directory.write("pipe.yaml", "remote: \(shared.path)\n")
        try colleague.directory.write("pipe.yaml", "remote: \(shared.path)\ntrusted-keys: [\"\(try me.publicKey())\"]\n")
        let first = try me.pipe("run", "chain.yaml")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("remote \(shared.path): 0 results pulled (0 B), 3 pushed"), "\(first.stdout)")
        // Before running, status and --dry-run say what the remote has (nothing is downloaded).
        let status = try colleague.pipe("status", "chain.yaml")
        #expect(status.status == 0 && status.stdout.contains("all 3 stages cached, 3 on the remote \(shared.path)"), "\(status.stdout)\(status.stderr)")
        #expect(status.stdout.contains("(fetched, not run, by the next run)"), "\(status.stdout)")
        let dry = try colleague.pipe("run", "chain.yaml", "--dry-run")
        #expect(dry.stdout.contains("would pull") && dry.stdout.contains("nothing to run: all 3 stages cached (3 on the remote)"), "\(dry.stdout)")
        #expect(!FileManager.default.fileExists(atPath: colleague.path + "/artifacts/objects"), "nothing was fetched")
        let second = try colleague.pipe("run", "chain.yaml")
        #expect(second.status == 0 && second.stdout.contains("3 cached") && second.stdout.contains("3 results pulled"), "\(second.stdout)")
        #expect(try colleague.pipe("get", "latest", "count", "--out", "count").status == 0)
        #expect(colleague.directory.read("count/count.txt") == "6\n")
        let cacheStatus = try me.pipe("cache", "status")
        #expect(cacheStatus.status == 0 && cacheStatus.stdout.contains("0 local only, 0 remote only, 3 in both"), "\(cacheStatus.stdout)")
        let push = try me.pipe("cache", "push", "latest")
        #expect(push.stdout.contains("pushed 0 results") && push.stdout.contains("3 were there already"), "\(push.stdout)")
    }

    @Test func anAllCachedRunPushesWhatOnlyTheLocalCacheHas() throws {
        let shared = try TemporaryDirectory("shared-cache")
        let me = try CLIProject()
        let noRuns = try me.pipe("cache", "push", environment: ["PIPE_REMOTE": shared.path])
        #expect(noRuns.status == 2 && noRuns.stderr.contains("no run recorded") && noRuns.stderr.contains("--all"), "\(noRuns.stderr)")
        // Run before the remote exists: the results are only local.
        #expect(try me.pipe("run", "chain.yaml").status == 0)
        try me.directory.write("pipe.yaml", "remote: \(shared.path)\n")
        let caughtUp = try me.pipe("run", "chain.yaml")
        #expect(caughtUp.status == 0 && caughtUp.stdout.contains("3 cached"), "\(caughtUp.stdout)\(caughtUp.stderr)")
        #expect(caughtUp.stdout.contains("3 pushed") && caughtUp.stdout.contains("3 of them were cached only locally before"), "\(caughtUp.stdout)")
        let again = try me.pipe("run", "chain.yaml")
        #expect(again.stdout.contains("0 pushed") && !again.stdout.contains("only locally"), "\(again.stdout)")
        // No argument: the latest run.
        let push = try me.pipe("cache", "push")
        #expect(push.status == 0 && push.stdout.contains("pushed 0 results") && push.stdout.contains("3 were there already"), "\(push.stdout)\(push.stderr)")
    }

    @Test func aRunWhoseRemoteIsDownSaysHowManyResultsStayLocal() throws {
        let me = try CLIProject()
        #expect(try me.pipe("run", "chain.yaml").status == 0)
        // Nothing listens on port 9 (discard): every request is refused at once.
        let offline = try me.pipe("run", "chain.yaml", "--set", "params.greeting=bye",
                                  environment: ["PIPE_REMOTE": "http://127.0.0.1:9/cache/", "PIPE_REMOTE_RETRIES": "0"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stdout.contains("results are still only local (`pipe cache push` sends them)"), "\(offline.stdout)")
    }

    @Test(arguments: [false, true])
    func pushAndPullThroughWebDAV(tls: Bool) throws {
        let server = try WebDAVServer(tls: tls)
        let me = try CLIProject(), colleague = try CLIProject()
        // No remote while running: the results stay local until pushed.
        #expect(try me.pipe("run", "chain.yaml").status == 0)
        var environment = ["PIPE_REMOTE": server.url]
        if let caFile = server.caFile { environment["PIPE_REMOTE_CA_FILE"] = caFile }
        let before = try me.pipe("cache", "status", environment: environment)
        #expect(before.stdout.contains("3 local only, 0 remote only, 0 in both"), "\(before.stdout)\(before.stderr)")
        let push = try me.pipe("cache", "push", "--all", environment: environment)
        #expect(push.status == 0 && push.stdout.contains("pushed 3 results"), "\(push.stdout)\(push.stderr)")
        try colleague.directory.write("pipe.yaml", "trusted-keys:\n  - \(try me.publicKey())\n")
        let pull = try colleague.pipe("cache", "pull", "--all", environment: environment)
        #expect(pull.status == 0 && pull.stdout.contains("pulled 3 results"), "\(pull.stdout)\(pull.stderr)")
        let run = try colleague.pipe("run", "chain.yaml")
        #expect(run.stdout.contains("3 cached") && !run.stdout.contains("remote"), "\(run.stdout)")
        // The remote gone: one warning, the run goes on locally.
        server.stop()
        let offline = try me.pipe("run", "chain.yaml", "--set", "params.greeting=bye", environment: environment)
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stderr.components(separatedBy: "warning:").count == 2 && offline.stderr.contains("is not answering"), "\(offline.stderr)")
    }

    @Test(arguments: [false, true])
    func pushAndPullThroughS3(tls: Bool) throws {
        let server = try S3Server(tls: tls)
        let me = try CLIProject(), colleague = try CLIProject()
        var environment = server.environment
        environment["PIPE_REMOTE"] = "s3://\(server.bucket)/lab"
        let first = try me.pipe("run", "chain.yaml", environment: environment)
        #expect(first.status == 0 && first.stdout.contains("remote s3://\(server.bucket)/lab: 0 results pulled (0 B), 3 pushed"), "\(first.stdout)\(first.stderr)")
        let status = try colleague.pipe("cache", "status", environment: environment)
        #expect(status.stdout.contains("0 local only, 3 remote only, 0 in both"), "\(status.stdout)\(status.stderr)")
        try colleague.directory.write("pipe.yaml", "trusted-keys: [\"\(try me.publicKey())\"]\n")
        let pull = try colleague.pipe("cache", "pull", "--all", environment: environment)
        #expect(pull.status == 0 && pull.stdout.contains("pulled 3 results"), "\(pull.stdout)\(pull.stderr)")
        var unsigned = environment
        unsigned["AWS_ACCESS_KEY_ID"] = nil
        unsigned["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
        let refused = try me.pipe("cache", "status", environment: unsigned)
        #expect(refused.status == 2 && refused.stderr.contains("no credentials"), "\(refused.stderr)")
    }

    @Test func anHTTPSRemoteIsTrustedThroughTheCAFileOfPipeYAML() throws {
        let server = try WebDAVServer(tls: true)
        let me = try CLIProject()
        // Without the lab's CA: one clear warning, the run goes on locally.
        try me.directory.write("pipe.yaml", "remote: \(server.url)\n")
        let untrusted = try me.pipe("run", "chain.yaml")
        #expect(untrusted.status == 0 && untrusted.stderr.components(separatedBy: "warning:").count == 2, "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("certificate of 127.0.0.1 is not trusted") && untrusted.stderr.contains("hint: add its CA with `ca-file:"),
                "\(untrusted.stderr)")
        // `ca-file:` relative to pipe.yaml.
        try me.directory.write("lab-ca.pem", try String(contentsOfFile: server.caFile!, encoding: .utf8))
        try me.directory.write("pipe.yaml", "remote:\n  url: \(server.url)\n  ca-file: lab-ca.pem\n")
        let push = try me.pipe("cache", "push", "--all")
        #expect(push.status == 0 && push.stdout.contains("pushed 3 results"), "\(push.stdout)\(push.stderr)")
        try me.directory.write("pipe.yaml", "remote:\n  url: \(server.url)\n  ca-file: missing.pem\n")
        let missing = try me.pipe("cache", "status")
        #expect(missing.status == 2 && missing.stderr.contains("remote ca-file `\(me.path)/missing.pem`: no such readable file"), "\(missing.stderr)")
    }

    @Test func badRemoteSettingsAreRefused() throws {
        let project = try CLIProject()
        let none = try project.pipe("cache", "status")
        #expect(none.status == 2 && none.stderr.contains("no remote configured"), "\(none.stderr)")
        try project.directory.write("pipe.yaml", "remote:\n  url: /tmp\n  timeuot: 3\n")
        let typo = try project.pipe("run", "chain.yaml")
        #expect(typo.status == 2 && typo.stderr.contains("pipe.yaml:3") && typo.stderr.contains("unknown remote setting `timeuot`"), "\(typo.stderr)")
        try project.directory.write("pipe.yaml", "remote: shared/cache\n")
        let relative = try project.pipe("run", "chain.yaml")
        #expect(relative.status == 2 && relative.stderr.contains("expected an absolute directory"), "\(relative.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/ledger.sqlite"))
        try project.directory.write("pipe.yaml", "remot: /tmp\n")
        let unknown = try project.pipe("run", "chain.yaml")
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown project setting `remot`"), "\(unknown.stderr)")
        try project.directory.write("pipe.yaml", "# no remote\n")
        let badRetries = try project.pipe("cache", "status", environment: ["PIPE_REMOTE": "/tmp", "PIPE_REMOTE_RETRIES": "many"])
        #expect(badRetries.status == 2 && badRetries.stderr.contains("PIPE_REMOTE_RETRIES=many"), "\(badRetries.stderr)")
    }
}
