import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real nginx with WebDAV PUT (Debian's `nginx`, which `make test` installs) serving a temporary
/// directory on a free loopback port, with JSON directory listings; with `tls`, over https with a
/// certificate from an authority made for the test. Stopped on `stop()` or deinit.
public final class WebDAVServer {
    public let port: Int
    /// The directory the server stores into.
    public let root: String
    /// The authority that signed the server's certificate (with `tls`).
    public let authority: TestCertificateAuthority?
    public var url: String { "\(authority == nil ? "http" : "https")://127.0.0.1:\(port)\(urlPath)" }
    /// The authority's certificate, for `ca-file` (nil without `tls`).
    public var caFile: String? { authority?.certificate }
    private let prefix: TemporaryDirectory
    private var server: BackgroundProcess?

    public init(tls: Bool = false) throws {
        prefix = try TemporaryDirectory("webdav")
        root = prefix.path + "/www/cache"
        for directory in [root, prefix.path + "/www/.body"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        port = try Self.freePort()
        authority = try tls ? TestCertificateAuthority(in: prefix.path + "/tls") : nil
        let listen = authority.map {
            "listen 127.0.0.1:\(port) ssl;\n    ssl_certificate \($0.serverCertificate);\n    ssl_certificate_key \($0.serverKey);"
        } ?? "listen 127.0.0.1:\(port);"
        let serverBlock = """
          client_body_temp_path \(prefix.path)/www/.body;
          server {
            \(listen)
            root \(prefix.path)/www;
            location /cache/ {
              dav_methods PUT DELETE MKCOL;
              create_full_put_path on;
              client_max_body_size 4g;
              autoindex on;
              autoindex_format json;
            }
          }
        """
        try start(serverBlock: serverBlock, user: getuid() == 0 ? "root root" : nil)
    }

    /// The server block of `scripts/nginx-pipe-cache.conf` (the documented set-up), with its `/srv`
    /// moved to `srv` and its port to a free one; as root, workers run as `www-data`, as on Debian.
    /// `url` is then the server's root, and `root` the documented `/srv/pipe`.
    public init(documentedConfig file: String, srv: String) throws {
        prefix = try TemporaryDirectory("webdav")
        root = srv + "/pipe"
        authority = nil
        port = try Self.freePort()
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let serverBlock = text.replacingOccurrences(of: "/srv", with: srv).replacingOccurrences(of: "listen 8080;", with: "listen 127.0.0.1:\(port);")
        try start(serverBlock: serverBlock, user: getuid() == 0 ? "www-data" : nil, urlPath: "/")
    }

    private var urlPath = "/cache/"

    /// Writes the configuration around `serverBlock` and starts nginx; ready when it accepts a connection.
    private func start(serverBlock: String, user: String?, urlPath: String = "/cache/") throws {
        let candidates = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BackgroundProcess.Unavailable("nginx is not installed; `make test` installs it (apt-get install nginx)")
        }
        self.urlPath = urlPath
        try FileManager.default.createDirectory(atPath: prefix.path + "/logs", withIntermediateDirectories: true)
        let config = """
        \(user.map { "user \($0);\n" } ?? "")worker_processes 2;
        daemon off;
        error_log \(prefix.path)/logs/error.log;
        pid \(prefix.path)/nginx.pid;
        events { worker_connections 256; }
        http {
          access_log off;
          proxy_temp_path \(prefix.path)/logs/proxy;
          fastcgi_temp_path \(prefix.path)/logs/fastcgi;
          uwsgi_temp_path \(prefix.path)/logs/uwsgi;
          scgi_temp_path \(prefix.path)/logs/scgi;
        \(serverBlock)
        }
        """
        try config.write(toFile: prefix.path + "/nginx.conf", atomically: true, encoding: .utf8)
        let server = try BackgroundProcess(binary, ["-p", prefix.path, "-c", prefix.path + "/nginx.conf"], log: prefix.path + "/logs/nginx.out")
        self.server = server
        if server.wait(timeout: 5, until: { Self.accepts(port: self.port) }) { return }
        let log = (try? String(contentsOfFile: prefix.path + "/logs/error.log", encoding: .utf8)) ?? ""
        stop()
        throw BackgroundProcess.Unavailable("nginx did not start on port \(port): \(log.suffix(400))")
    }

    deinit { stop() }

    /// Stops the server (a remote that went down).
    public func stop() {
        server?.stop(signal: SIGQUIT)
        server = nil
    }

    /// A port nothing listens on now.
    public static func freePort() throws -> Int {
        guard let (fd, port) = LoopbackListener.open(backlog: 1) else { throw BackgroundProcess.Unavailable("cannot find a free port") }
        close(fd)
        return port
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
