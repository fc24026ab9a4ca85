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
    public var url: String { "\(authority == nil ? "http" : "https")://127.0.0.1:\(port)/cache/" }
    /// The authority's certificate, for `ca-file` (nil without `tls`).
    public var caFile: String? { authority?.certificate }
    private let prefix: TemporaryDirectory
    private var server: BackgroundProcess?

    public init(tls: Bool = false) throws {
        let candidates = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BackgroundProcess.Unavailable("nginx is not installed; `make test` installs it (apt-get install nginx)")
        }
        prefix = try TemporaryDirectory("webdav")
        root = prefix.path + "/www/cache"
        for directory in [root, prefix.path + "/www/.body", prefix.path + "/logs"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        port = try Self.freePort()
        authority = try tls ? TestCertificateAuthority(in: prefix.path + "/tls") : nil
        let listen = authority.map {
            "listen 127.0.0.1:\(port) ssl;\n    ssl_certificate \($0.serverCertificate);\n    ssl_certificate_key \($0.serverKey);"
        } ?? "listen 127.0.0.1:\(port);"
        let user = getuid() == 0 ? "user root root;\n" : ""
        let config = """
        \(user)worker_processes 2;
        daemon off;
        error_log \(prefix.path)/logs/error.log;
        pid \(prefix.path)/nginx.pid;
        events { worker_connections 256; }
        http {
          access_log off;
          client_body_temp_path \(prefix.path)/www/.body;
          proxy_temp_path \(prefix.path)/logs/proxy;
          fastcgi_temp_path \(prefix.path)/logs/fastcgi;
          uwsgi_temp_path \(prefix.path)/logs/uwsgi;
          scgi_temp_path \(prefix.path)/logs/scgi;
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
        }
        """
        try config.write(toFile: prefix.path + "/nginx.conf", atomically: true, encoding: .utf8)
        let server = try BackgroundProcess(binary, ["-p", prefix.path, "-c", prefix.path + "/nginx.conf"], log: prefix.path + "/logs/nginx.out")
        self.server = server
        // Ready when it accepts a connection.
        if server.wait(timeout: 5, until: { Self.accepts(port: port) }) { return }
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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BackgroundProcess.Unavailable("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
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
