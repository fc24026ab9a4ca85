import Foundation
import PipeTestSupport
import Testing

/// Signed action records through the CLI: a colleague's results are used once their key is in
/// `trusted-keys`, the warning says what to add, `pipe cache key` prints the key, and bad trust
/// settings are refused with their place.
struct RecordTrustCommandTests {
    /// The `warning:` lines of a command's stderr.
    static func warnings(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("warning:") }
    }

    @Test func aColleaguesResultsAreUsedOnceTheirKeyIsTrusted() throws {
        let shared = try TemporaryDirectory("shared-cache")
        let me = try CLIProject(), colleague = try CLIProject(), newcomer = try CLIProject()
        for project in [me, colleague, newcomer] { try project.directory.write("pipe.yaml", "remote: \(shared.path)\n") }
        #expect(try me.pipe("run", "chain.yaml").status == 0)
        let myKey = try me.publicKey()
        let line = "trusted-keys: [\"\(myKey)\"]"
        // Not trusted yet: status, a dry run and a run say so once each and compute everything.
        let status = try colleague.pipe("status", "chain.yaml")
        #expect(status.status == 0 && status.stdout.contains("3 of 3 stages stale"), "\(status.stdout)\(status.stderr)")
        #expect(Self.warnings(status.stderr).count == 1 && status.stderr.contains(line), "\(status.stderr)")
        let dry = try colleague.pipe("run", "chain.yaml", "--dry-run")
        #expect(dry.status == 0 && Self.warnings(dry.stderr).count == 1, "\(dry.stdout)\(dry.stderr)")
        let run = try colleague.pipe("run", "chain.yaml")
        #expect(run.status == 0 && run.stdout.contains("3 ran") && run.stdout.contains("0 results pulled"), "\(run.stdout)")
        let warnings = Self.warnings(run.stderr)
        #expect(warnings.count == 1, "\(run.stderr)")
        #expect(warnings.first?.hasSuffix("add this line to pipe.yaml: \(line)") == true, "\(run.stderr)")
        #expect(try colleague.pipe("get", "latest", "count", "--out", "count").status == 0)
        #expect(colleague.directory.read("count/count.txt") == "6\n")
        // `pipe cache pull` ignores them too, and says how many.
        let pull = try newcomer.pipe("cache", "pull", "--all")
        #expect(pull.status == 0 && pull.stdout.contains("pulled 0 results") && pull.stdout.contains("3 ignored, not signed by a trusted key"), "\(pull.stdout)")
        #expect(Self.warnings(pull.stderr).count == 1, "\(pull.stderr)")
        // The line from the warning, pasted into pipe.yaml: hits.
        try newcomer.directory.write("pipe.yaml", "remote: \(shared.path)\n\(line)\n")
        let trusted = try newcomer.pipe("run", "chain.yaml")
        #expect(trusted.status == 0 && trusted.stdout.contains("3 cached") && trusted.stdout.contains("3 results pulled"), "\(trusted.stdout)")
        #expect(Self.warnings(trusted.stderr).isEmpty, "\(trusted.stderr)")
    }

    @Test func theKeyIsMadeOnFirstUsePrivateAndReused() throws {
        let project = try CLIProject()
        let keyFile = project.path + "/.config/pipe/signing-key"
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        #expect(!FileManager.default.fileExists(atPath: keyFile), "a run without a remote makes no key")
        let first = try project.pipe("cache", "key", environment: ["PIPE_SIGNING_KEY_NAME": "alice@lab"])
        #expect(first.status == 0 && first.stdout.hasPrefix("alice@lab:") && first.stdout.split(separator: "\n").count == 1, "\(first.stdout)\(first.stderr)")
        var info = stat()
        #expect(stat(keyFile, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try project.pipe("cache", "key").stdout == first.stdout)
        #expect(try project.pipe("cache", "key", "--path").stdout == keyFile + "\n")
        // PIPE_SIGNING_KEY names another file.
        let other = try project.pipe("cache", "key", environment: ["PIPE_SIGNING_KEY": project.path + "/other-key"])
        #expect(other.status == 0 && other.stdout != first.stdout && FileManager.default.fileExists(atPath: project.path + "/other-key"))
        // A key file others may read, or one that is not a key, is refused.
        chmod(keyFile, 0o640)
        let exposed = try project.pipe("cache", "key")
        #expect(exposed.status == 2 && exposed.stderr.contains("signing key \(keyFile) is open to other users (mode 0640)") && exposed.stderr.contains("chmod 600"),
                "\(exposed.stderr)")
        try "garbage\n".write(toFile: keyFile, atomically: false, encoding: .utf8)
        chmod(keyFile, 0o600)
        try project.directory.write("pipe.yaml", "remote: \(project.path)/remote\n")
        try FileManager.default.createDirectory(atPath: project.path + "/remote", withIntermediateDirectories: true)
        let bad = try project.pipe("run", "chain.yaml", "--set", "params.greeting=bye")
        #expect(bad.status == 2 && bad.stderr.contains("signing key \(keyFile) is not `NAME:BASE64`"), "\(bad.stderr)")
    }

    @Test(arguments: [
        ("trusted-keys: alice\n", "pipe.yaml:1:15: error: trusted-keys: expected a list of public keys, got a string"),
        ("trusted-keys:\n  - \"alice@lab:bm90IGEga2V5\"\n", "pipe.yaml:2:5: error: trusted-keys[0]: `alice@lab:bm90IGEga2V5` is not a public key"),
        ("trusted-keys: [42]\n", "pipe.yaml:1:16: error: trusted-keys[0]: expected a public key `NAME:BASE64`, got an integer"),
        ("trusted-keys: [\"bad name:\(Data(repeating: 1, count: 32).base64EncodedString())\"]\n", "pipe.yaml:1:16: error: trusted-keys[0]: `bad name:"),
        ("trusted-kyes: []\n", "pipe.yaml:1:1: error: trusted-kyes: unknown project setting `trusted-kyes`\n  hint: did you mean `trusted-keys`?"),
        ("remote: {url: /tmp, require-signatures: maybe}\n", "pipe.yaml:1:41: error: remote.require-signatures: expected true or false, got a string"),
    ])
    func badTrustSettingsAreRefusedWithTheirPlace(yaml: String, message: String) throws {
        let project = try CLIProject()
        try project.directory.write("pipe.yaml", yaml)
        let run = try project.pipe("run", "chain.yaml")
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains(project.path + "/" + message), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts"), "nothing is written")
    }

    @Test func aLocalRecordWhoseMaterialWasEditedIsRecomputed() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        let actions = project.path + "/artifacts/actions"
        var edited = 0
        for prefix in try FileManager.default.contentsOfDirectory(atPath: actions) {
            for name in try FileManager.default.contentsOfDirectory(atPath: actions + "/" + prefix) {
                let path = actions + "/" + prefix + "/" + name
                let text = try String(contentsOfFile: path, encoding: .utf8)
                guard text.contains("\"stage\":\"shout\"") else { continue }
                chmod(path, 0o644)
                try text.replacingOccurrences(of: "upper.sh", with: "lower.sh").write(toFile: path, atomically: false, encoding: .utf8)
                edited += 1
            }
        }
        #expect(edited == 1)
        let again = try project.pipe("run", "chain.yaml")
        #expect(again.status == 0 && again.stdout.contains("1 ran") && again.stdout.contains("2 cached"), "\(again.stdout)\(again.stderr)")
        #expect((again.stdout + again.stderr).contains("its key material hashes to"), "\(again.stdout)\(again.stderr)")
        #expect(try project.pipe("run", "chain.yaml").stdout.contains("3 cached"))
    }
}
