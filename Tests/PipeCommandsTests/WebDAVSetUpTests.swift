import Foundation
import PipeTestSupport
import Testing

/// The WebDAV set-up of docs/team-cache.md, as written: nginx serving `scripts/nginx-pipe-cache.conf`
/// (only `/srv` and the port moved), the folders made by the documented `install -d` line, the
/// documented `curl` check, then a push and a pull through it.
struct WebDAVSetUpTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The shell lines of the block after `<!-- webdav-setup -->` in docs/team-cache.md.
    static func documentedLines() throws -> [String] {
        let page = try String(contentsOfFile: repository + "/docs/team-cache.md", encoding: .utf8)
        let after = try #require(page.range(of: "<!-- webdav-setup -->\n```sh\n"))
        let block = page[after.upperBound...]
        let end = try #require(block.range(of: "\n```"))
        return block[..<end.lowerBound].split(separator: "\n").map(String.init)
    }

    /// Runs a documented line with `/srv` moved to `srv` and port 8080 to `port`, without sudo.
    static func run(_ line: String, srv: String, port: Int) -> (status: Int32, output: String) {
        var command = line.replacingOccurrences(of: "sudo ", with: "")
            .replacingOccurrences(of: "/srv", with: srv).replacingOccurrences(of: "localhost:8080", with: "127.0.0.1:\(port)")
        if getuid() != 0 { command = command.replacingOccurrences(of: "-o www-data -g www-data ", with: "") }
        return BackgroundProcess.run("/bin/sh", ["-c", command + " 2>&1"])
    }

    @Test func theDocumentedSetUpServesAsARemote() throws {
        let lines = try Self.documentedLines()
        #expect(lines.contains("sudo cp scripts/nginx-pipe-cache.conf /etc/nginx/conf.d/pipe-cache.conf"), "\(lines)")
        let folders = try #require(lines.first { $0.contains("install -d") })
        let check = try #require(lines.first { $0.hasPrefix("curl ") })
        let srv = try TemporaryDirectory("srv")
        let made = Self.run(folders, srv: srv.path, port: 0)
        #expect(made.status == 0, "\(made.output)")
        let server = try WebDAVServer(documentedConfig: Self.repository + "/scripts/nginx-pipe-cache.conf", srv: srv.path)
        let checked = Self.run(check, srv: srv.path, port: server.port)
        #expect(checked.status == 0 && checked.output == "ok", "\(checked.output)")

        let me = try CLIProject(), colleague = try CLIProject()
        let remote = "http://127.0.0.1:\(server.port)/pipe/"
        try me.directory.write("pipe.yaml", "remote: \(remote)\n")
        let run = try me.pipe("run", "chain.yaml")
        #expect(run.status == 0 && run.stdout.contains("3 pushed"), "\(run.stdout)\(run.stderr)")
        #expect(!run.stderr.contains("warning"), "\(run.stderr)")
        try colleague.directory.write("pipe.yaml", "remote: \(remote)\ntrusted-keys: [\"\(try me.publicKey())\"]\n")
        let pull = try colleague.pipe("cache", "pull", "--all")
        #expect(pull.status == 0 && pull.stdout.contains("pulled 3 results"), "\(pull.stdout)\(pull.stderr)")
    }

    @Test func aCacheFolderNginxCannotWriteIsReportedAsStatusAndReason() throws {
        guard getuid() == 0 else { return }  // only root can make a folder the workers cannot write
        let srv = try TemporaryDirectory("srv")
        // The step most often missed: the folders made, but owned by root.
        #expect(Self.run("install -d /srv/pipe /srv/.pipe-tmp", srv: srv.path, port: 0).status == 0)
        let server = try WebDAVServer(documentedConfig: Self.repository + "/scripts/nginx-pipe-cache.conf", srv: srv.path)
        let me = try CLIProject()
        try me.directory.write("pipe.yaml", "remote: http://127.0.0.1:\(server.port)/pipe/\n")
        let run = try me.pipe("run", "chain.yaml")
        #expect(run.status == 0, "the run goes on with the local cache: \(run.stderr)")
        #expect(run.stderr.contains("HTTP 500 Internal Server Error") && !run.stderr.contains("<html"), "\(run.stderr)")
        #expect(run.stdout.contains("results are still only local"), "\(run.stdout)")
    }
}
