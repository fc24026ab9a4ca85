import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// A remote on an HTTP server that accepts PUT, GET and HEAD under a base path (nginx with
/// WebDAV, say), or an S3 bucket (requests signed with SigV4, path-style): kept-alive connections
/// from a pool, transient failures retried with backoff. Listing a directory (`pipe cache status`)
/// uses nginx's `autoindex_format json` when the server has it, or S3's ListObjectsV2.
/// `http://user:password@host/` sends Basic credentials, which are never shown.
public final class HTTPBackend: RemoteBackend, @unchecked Sendable {
    let host: String
    let port: Int
    /// The base path, ending in `/`.
    let base: String
    let authorization: String?
    let signer: S3Signer?
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
        signer = nil
        displayName = Self.redacted(url)
    }

    /// An S3 remote: `s3://bucket/prefix` at `endpoint` (`http://host:port`), path-style.
    public init(s3 location: String, endpoint: String, signer: S3Signer, settings: RemoteSettings) throws {
        let parts = location.dropFirst("s3://".count).split(separator: "/", maxSplits: 1).map(String.init)
        guard let bucket = parts.first, !bucket.isEmpty else {
            throw RemoteError.configuration("remote `\(location)`: expected s3://bucket/prefix")
        }
        guard let components = URLComponents(string: endpoint), components.scheme == "http", let host = components.host, !host.isEmpty else {
            throw RemoteError.configuration("S3 endpoint `\(endpoint)`: only http://host:port endpoints are spoken (a self-hosted server, or a local TLS-terminating proxy)")
        }
        self.host = host
        port = components.port ?? 80
        let prefix = parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "/")) : ""
        base = "/" + S3Signer.encode(bucket) + "/" + (prefix.isEmpty ? "" : S3Signer.encode(prefix, keepSlash: true) + "/")
        authorization = nil
        self.signer = signer
        self.settings = settings
        displayName = location
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
    /// `relative` is under the base path, or `absolutePath` replaces both (an S3 bucket listing);
    /// `query` is sent and signed as given.
    private func request(_ method: String, _ relative: String, absolutePath: String? = nil, query: [(String, String)] = [],
                         data: Data? = nil, file: String? = nil,
                         sink: () throws -> HTTPConnection.Sink = { .memory }) throws -> (HTTPConnection.Head, HTTPConnection.Body) {
        let path = absolutePath ?? base + S3Signer.encode(relative, keepSlash: true)
        let target = path + (query.isEmpty ? "" : "?" + query.map { S3Signer.encode($0.0) + "=" + S3Signer.encode($0.1) }.joined(separator: "&"))
        var fixed: [(String, String)] = [("User-Agent", "pipe")]
        if let authorization { fixed.append(("Authorization", authorization)) }
        let payloadHash = signer == nil ? "" : try Self.payloadHash(relative: relative, data: data, file: file)
        var attempt = 0
        while true {
            do {
                var headers = fixed
                if let signer {
                    headers += signer.sign(method: method, path: path, query: query, headers: [("host", "\(host):\(port)")], payloadHash: payloadHash)
                }
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
                if head.status / 100 == 2 || head.status == 404 || absolutePath != nil { return (head, body) }
                let detail = String(decoding: body.data.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw RemoteError.status(head.status, "\(method) \(displayName)\(relative)" + (detail.isEmpty ? "" : ": \(detail.prefix(120))"))
            } catch let error as RemoteError where error.isTransient && attempt < settings.retries {
                usleep(useconds_t(settings.backoff * pow(2, Double(attempt)) * 1e6))
                attempt += 1
            }
        }
    }

    /// The SHA-256 of a request body: an object's is its name; anything else is hashed.
    static func payloadHash(relative: String, data: Data?, file: String?) throws -> String {
        if let data { return Digest.of(data).hex }
        guard let file else { return S3Signer.emptyPayloadHash }
        let parts = relative.split(separator: "/")
        if parts.count == 3, parts[0] == "objects", let digest = Digest(hex: String(parts[1] + parts[2])) { return digest.hex }
        do {
            return try Digest.of(fileAt: file).hex
        } catch {
            throw RemoteError.local("cannot read \(file): \(error)")
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

    /// Names from nginx's JSON autoindex (`[{"name": ..., "type": "file"}, ...]`) or S3's
    /// ListObjectsV2 (with `/` as the delimiter); nil for a server that does not list either way.
    public func list(_ relative: String) throws -> [String]? {
        if signer != nil { return try listS3(relative) }
        let (head, body) = try request("GET", relative.hasSuffix("/") ? relative : relative + "/")
        if head.status == 404 { return [] }
        guard let entries = try? JSONSerialization.jsonObject(with: body.data) as? [[String: Any]] else { return nil }
        return entries.compactMap { $0["name"] as? String }
    }

    /// One level of an S3 "directory": object names and common prefixes under `relative/`.
    private func listS3(_ relative: String) throws -> [String]? {
        // The key prefix: the base path without the bucket, then `relative/`.
        let baseKey = base.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true).dropFirst().first.map { String($0).removingPercentEncoding ?? String($0) } ?? ""
        let keyPrefix = baseKey + (relative.hasSuffix("/") ? relative : relative + "/")
        let bucketPath = "/" + (base.split(separator: "/").first.map(String.init) ?? "") + "/"
        var names: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", keyPrefix), ("delimiter", "/")]
            if let token { query.append(("continuation-token", token)) }
            let (head, body) = try request("GET", "", absolutePath: bucketPath, query: query)
            guard head.status / 100 == 2 else {
                throw RemoteError.status(head.status, "listing \(displayName)/\(relative): " + String(decoding: body.data.prefix(200), as: UTF8.self))
            }
            let xml = String(decoding: body.data, as: UTF8.self)
            for key in Self.elements("Key", in: xml) + Self.elements("Prefix", in: xml) where key.hasPrefix(keyPrefix) && key != keyPrefix {
                names.append(String(key.dropFirst(keyPrefix.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
            }
            token = Self.elements("IsTruncated", in: xml).first == "true" ? Self.elements("NextContinuationToken", in: xml).first : nil
        } while token != nil
        return names
    }

    /// The texts of `<name>...</name>` elements, XML entities decoded.
    static func elements(_ name: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) {
            out.append(String(rest[open.upperBound..<close.lowerBound]).replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&"))
            rest = rest[close.upperBound...]
        }
        return out
    }
}
