import Foundation
import PipeEngine
@testable import PipeRemote
import PipeTestSupport
import Testing

/// https remotes: a certificate is verified against the system's authorities and a `ca-file`; an
/// untrusted one is refused once, clearly, and not retried; a CA file that cannot be used is a
/// configuration error quoting it.
@Suite(.serialized)
struct HTTPSRemoteTests {
    @Test func anUntrustedCertificateIsRefusedWithAHint() throws {
        let server = try WebDAVServer(tls: true)
        let backend = try RemoteSettings(location: server.url, timeout: 2, retries: 2).backend(environment: [:])
        let start = Date()
        #expect { _ = try backend.read("actions/x") } throws: { error in
            guard let remote = error as? RemoteError, case .configuration(let text) = remote, !remote.isTransient else { return false }
            return text.hasPrefix("certificate of 127.0.0.1 is not trusted: ") && text.contains("hint: add its CA with `ca-file: ")
        }
        #expect(Date().timeIntervalSince(start) < 2, "not retried")
        // In a run: one warning, everything local, nothing sent.
        let me = try RemoteCacheTests.Machine()
        let run = try me.run(remote: server.url)
        #expect(run.statuses.values.allSatisfy { $0 == .ran } && me.warnings.count == 1, "\(me.warnings)")
        #expect(me.warnings.first?.contains("is not trusted") == true, "\(me.warnings)")
        #expect(!FileManager.default.fileExists(atPath: server.root + "/actions"))
        // Trusted through the CA file, or through PIPE_REMOTE_CA_FILE.
        let trusted = try RemoteSettings(location: server.url, caFile: server.caFile).backend(environment: [:])
        #expect(try trusted.read("actions/x") == nil)
        let fromEnvironment = try RemoteSettings(location: server.url).backend(environment: ["PIPE_REMOTE_CA_FILE": server.caFile!])
        #expect(try fromEnvironment.read("actions/x") == nil)
    }

    @Test(arguments: [
        ("/no/such/ca.pem", "remote ca-file `/no/such/ca.pem`: no such readable file"),
        ("garbage", "not a PEM bundle of certificates"),
    ])
    func aCAFileThatCannotBeUsedIsRefused(file: String, message: String) throws {
        let directory = try TemporaryDirectory("ca-file")
        var path = file
        if !file.hasPrefix("/") {
            path = directory.path + "/ca.pem"
            try "not a certificate\n".write(toFile: path, atomically: true, encoding: .utf8)
        }
        #expect { _ = try RemoteSettings(location: "https://127.0.0.1:9/cache/", caFile: path).backend(environment: [:]) } throws: { error in
            guard let remote = error as? RemoteError, case .configuration(let text) = remote else { return false }
            return text.contains(message) && text.contains(path)
        }
    }

    @Test func plainHTTPToATLSPortIsAStatusNotAPage() throws {
        let server = try WebDAVServer(tls: true)
        let plain = "http://127.0.0.1:\(server.port)/cache/"
        let backend = try RemoteSettings(location: plain, timeout: 2, retries: 0).backend(environment: [:])
        #expect { _ = try backend.read("actions/x") } throws: { error in
            (error as? RemoteError)?.description == "HTTP 400 Bad Request on GET \(plain)actions/x"
        }
    }

    @Test func tlsToAPlainPortIsAConfigurationError() throws {
        let server = try WebDAVServer()
        let backend = try RemoteSettings(location: "https://127.0.0.1:\(server.port)/cache/", timeout: 2).backend(environment: [:])
        #expect { _ = try backend.read("actions/x") } throws: { error in
            guard let remote = error as? RemoteError, case .configuration(let text) = remote else { return false }
            return text.contains("127.0.0.1 does not speak TLS on this port")
        }
    }
}
