import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// A remote on an HTTP server that accepts PUT, GET and HEAD under a base path (nginx with
/// WebDAV, say): kept-alive connections from a pool, transient failures retried with backoff.
/// Listing a directory (`pipe cache status`) uses nginx's `autoindex_format json` when the server
/// has it. `http://user:password@host/` sends Basic credentials, which are never shown.
public final class HTTPBackend: RemoteBackend, @unchecked Sendable {
    let host: String
    let port: Int
    /// The base path, ending in `/`.
    let base: String
    let authorization: String?
    let settings: RemoteSettings
    public let displayName: String
    private var idle: [HTTPConnection] = []
    private let lock = NSLock()

    public init(url: String, settings: RemoteSettings) throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host, !host.isEmpty else {
            throw RemoteError.configuration("remote `\(Self.redacted(url))` is not an http://host[:port]/path/ address")
        }
        self.host = host
        port = components.port ?? 80
        var path = components.percentEncodedPath
        if !path.hasSuffix("/") { path += "/" }
        base = path
        if let user = components.user {
            let credentials = "\(user.removingPercentEncoding ?? user):\(components.password.flatMap { $0.removingPercentEncoding } ?? "")"
            authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
        } else {
            authorization = nil
        }
        self.settings = settings
        displayName = Self.redacted(url)
    }

    /// `url` without its user and password.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.user != nil || components.password != nil else { return url }
        components.user = nil
        components.password = nil
        return components.string ?? url
    }

    /// One request with retries: a fresh connection for each attempt after a failure.
    /// `sink` is asked before each attempt where the body goes (a download starts a new file).
    private func request(_ method: String, _ relative: String, data: Data? = nil, file: String? = nil,
                         sink: () throws -> HTTPConnection.Sink = { .memory }) throws -> (HTTPConnection.Head, HTTPConnection.Body) {
        let target = base + (relative.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? relative)
        var headers: [(String, String)] = [("User-Agent", "pipe")]
        if let authorization { headers.append(("Authorization", authorization)) }
        var attempt = 0
        while true {
            do {
                let destination = try sink()
                let connection = try take()
                let (head, body): (HTTPConnection.Head, HTTPConnection.Body)
                do {
                    (head, body) = try connection.exchange(method: method, target: target, headers: headers, data: data, file: file, sink: destination)
                } catch let error as RemoteError {
                    // A kept-alive connection the server has since closed: once more on a new one.
                    if connection.reused && attempt == 0, case .transfer = error {
                        attempt += 1
                        continue
                    }
                    throw error
                }
                give(connection)
                if head.status / 100 == 2 || head.status == 404 { return (head, body) }
                let detail = String(decoding: body.data.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw RemoteError.status(head.status, "\(method) \(displayName)\(relative)" + (detail.isEmpty ? "" : ": \(detail.prefix(120))"))
            } catch let error as RemoteError where error.isTransient && attempt < settings.retries {
                usleep(useconds_t(settings.backoff * pow(2, Double(attempt)) * 1e6))
                attempt += 1
            }
        }
    }

    private func take() throws -> HTTPConnection {
        if let connection = lock.withLock({ idle.popLast() }) {
            connection.reused = true
            return connection
        }
        return try HTTPConnection(host: host, port: port, timeout: settings.timeout)
    }

    private func give(_ connection: HTTPConnection) {
        guard connection.reusable else { return }
        lock.withLock { if idle.count < 16 { idle.append(connection) } }
    }

    public func download(_ relative: String, to file: String) throws -> Digest? {
        var fd: Int32 = -1
        defer { if fd >= 0 { close(fd) } }
        let (head, body) = try request("GET", relative) {
            // Each attempt starts a new, empty file.
            if fd >= 0 { close(fd) }
            unlink(file)
            fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RemoteError.local("cannot create \(file): \(String(cString: strerror(errno)))") }
            return .file(fd)
        }
        guard head.status != 404 else {
            unlink(file)
            return nil
        }
        return body.digest.map { Digest($0) }
    }

    public func read(_ relative: String) throws -> Data? {
        let (head, body) = try request("GET", relative)
        return head.status == 404 ? nil : body.data
    }

    public func upload(file: String, to relative: String) throws {
        _ = try request("PUT", relative, file: file)
    }

    public func upload(_ data: Data, to relative: String) throws {
        _ = try request("PUT", relative, data: data)
    }

    public func exists(_ relative: String) throws -> Bool {
        try request("HEAD", relative).0.status != 404
    }

    /// Names from nginx's JSON autoindex (`[{"name": ..., "type": "file"}, ...]`); nil for a
    /// server that does not list that way.
    public func list(_ relative: String) throws -> [String]? {
        let (head, body) = try request("GET", relative.hasSuffix("/") ? relative : relative + "/")
        if head.status == 404 { return [] }
        guard let entries = try? JSONSerialization.jsonObject(with: body.data) as? [[String: Any]] else { return nil }
        return entries.compactMap { $0["name"] as? String }
    }
}
