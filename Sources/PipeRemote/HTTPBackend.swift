import Foundation
import NIOHTTP1
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// A remote on an HTTP or HTTPS server that accepts PUT, GET and HEAD under a base path (nginx with
/// WebDAV, say), or an S3 bucket (requests signed with SigV4, path-style), spoken through
/// `HTTPTransport`; transient failures are retried with backoff. Listing a directory (`pipe cache
/// status`) uses nginx's `autoindex_format json` when the server has it, or S3's ListObjectsV2.
/// `http(s)://user:password@host/` sends Basic credentials, which are never shown.
public final class HTTPBackend: RemoteBackend, @unchecked Sendable {
    let transport: HTTPTransport
    /// The base path, ending in `/`.
    let base: String
    let authorization: String?
    let signer: S3Signer?
    let settings: RemoteSettings
    public let displayName: String

    public init(url: String, settings: RemoteSettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let components = URLComponents(string: url), let origin = Self.origin(components) else {
            throw RemoteError.configuration("remote `\(Self.redacted(url))` is not an http(s)://host[:port]/path/ address")
        }
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
        transport = try HTTPTransport(origin: origin, settings: settings, environment: environment)
    }

    /// An S3 remote: `s3://bucket/prefix` at `endpoint` (`https://s3.eu-west-1.amazonaws.com`,
    /// `http://host:port`), path-style.
    public init(s3 location: String, endpoint: String, signer: S3Signer, settings: RemoteSettings,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let parts = location.dropFirst("s3://".count).split(separator: "/", maxSplits: 1).map(String.init)
        guard let bucket = parts.first, !bucket.isEmpty else {
            throw RemoteError.configuration("remote `\(location)`: expected s3://bucket/prefix")
        }
        guard let components = URLComponents(string: endpoint), let origin = Self.origin(components) else {
            throw RemoteError.configuration("S3 endpoint `\(endpoint)`: expected https://host[:port] (or http:// on a trusted network)")
        }
        let prefix = parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "/")) : ""
        base = "/" + S3Signer.encode(bucket) + "/" + (prefix.isEmpty ? "" : S3Signer.encode(prefix, keepSlash: true) + "/")
        authorization = nil
        self.signer = signer
        self.settings = settings
        displayName = location
        transport = try HTTPTransport(origin: origin, settings: settings, environment: environment)
    }

    private static func origin(_ components: URLComponents) -> HTTPTransport.Origin? {
        guard let scheme = components.scheme, scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else { return nil }
        let secure = scheme == "https"
        return HTTPTransport.Origin(secure: secure, host: host, port: components.port ?? (secure ? 443 : 80))
    }

    /// `relative` on this remote, as shown in messages.
    func address(_ relative: String) -> String {
        displayName.hasSuffix("/") || relative.isEmpty ? displayName + relative : displayName + "/" + relative
    }

    /// `url` without its user and password.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.user != nil || components.password != nil else { return url }
        components.user = nil
        components.password = nil
        return components.string ?? url
    }

    /// One request with retries. `sink` is asked before each attempt where the body goes (a
    /// download starts a new file). `relative` is under the base path, or `absolutePath` replaces
    /// both (an S3 bucket listing); `query` is sent and signed as given. A status other than 2xx
    /// (or 404 under the base path, which callers read as "none") is thrown as its code and reason.
    private func request(_ method: HTTPMethod, _ relative: String, absolutePath: String? = nil, query: [(String, String)] = [],
                         body: HTTPTransport.Body = .none, sink: () throws -> HTTPTransport.Sink) throws -> HTTPTransport.Response {
        let path = absolutePath ?? base + S3Signer.encode(relative, keepSlash: true)
        let target = path + (query.isEmpty ? "" : "?" + query.map { S3Signer.encode($0.0) + "=" + S3Signer.encode($0.1) }.joined(separator: "&"))
        var fixed: [(String, String)] = [("User-Agent", "pipe")]
        if let authorization { fixed.append(("Authorization", authorization)) }
        let payloadHash = signer == nil ? "" : try Self.payloadHash(relative: relative, body: body)
        var attempt = 0
        while true {
            do {
                var headers = fixed
                if let signer {
                    headers += signer.sign(method: method.rawValue, path: path, query: query, headers: [("host", transport.origin.authority)],
                                           payloadHash: payloadHash)
                }
                let response = try transport.exchange(method, target, headers: headers, body: body, sink: try sink())
                let code = Int(response.status.code)
                if code / 100 == 2 || (code == 404 && absolutePath == nil) { return response }
                throw RemoteError.status(code, Self.statusText(response, on: "\(method.rawValue) \(address(relative))"))
            } catch let error as RemoteError where error.isTransient && attempt < settings.retries {
                usleep(useconds_t(settings.backoff * pow(2, Double(attempt)) * 1e6))
                attempt += 1
            }
        }
    }

    /// A small answer (to a PUT, a HEAD): kept in memory, at most 1 MiB.
    private static let answer: () throws -> HTTPTransport.Sink = { .memory(limit: 1 << 20, what: "an answer") }

    /// `Forbidden (SignatureDoesNotMatch) on PUT s3://...`: the reason, S3's error code when the
    /// body has one, never the body itself (an HTML error page says nothing the status does not).
    static func statusText(_ response: HTTPTransport.Response, on request: String) -> String {
        var text = response.status.reasonPhrase
        if response.headers.first(name: "content-type")?.contains("xml") == true,
           let code = elements("Code", in: String(decoding: response.data, as: UTF8.self)).first,
           code.count <= 64, code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == ".") }) {
            text += " (\(code))"
        }
        return text + " on " + request
    }

    /// The SHA-256 of a request body: an object's is its name; anything else is hashed.
    static func payloadHash(relative: String, body: HTTPTransport.Body) throws -> String {
        switch body {
        case .none: return S3Signer.emptyPayloadHash
        case .data(let data): return Digest.of(data).hex
        case .file(let file):
            let parts = relative.split(separator: "/")
            if parts.count == 3, parts[0] == "objects", let digest = Digest(hex: String(parts[1] + parts[2])) { return digest.hex }
            do {
                return try Digest.of(fileAt: file).hex
            } catch {
                throw RemoteError.local("cannot read \(file): \(error)")
            }
        }
    }

    public func download(_ relative: String, to file: String) throws -> Digest? {
        var fd: Int32 = -1
        defer { if fd >= 0 { close(fd) } }
        let response = try request(.GET, relative) {
            // Each attempt starts a new, empty file.
            if fd >= 0 { close(fd) }
            unlink(file)
            fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RemoteError.local("cannot create \(file): \(String(cString: strerror(errno)))") }
            return .file(fd, limit: settings.limits.object)
        }
        guard response.status != .notFound else {
            unlink(file)
            return nil
        }
        return response.digest.map { Digest($0) }
    }

    public func read(_ relative: String) throws -> Data? {
        let what = address(relative)
        let response = try request(.GET, relative) { .memory(limit: self.settings.limits.record, what: what) }
        return response.status == .notFound ? nil : response.data
    }

    public func upload(file: String, to relative: String) throws {
        _ = try request(.PUT, relative, body: .file(file), sink: Self.answer)
    }

    public func upload(_ data: Data, to relative: String) throws {
        _ = try request(.PUT, relative, body: .data(data), sink: Self.answer)
    }

    public func exists(_ relative: String) throws -> Bool {
        try request(.HEAD, relative, sink: Self.answer).status != .notFound
    }

    /// Names from nginx's JSON autoindex (`[{"name": ..., "type": "file"}, ...]`) or S3's
    /// ListObjectsV2 (with `/` as the delimiter); nil for a server that does not list either way.
    public func list(_ relative: String) throws -> [String]? {
        if signer != nil { return try listS3(relative) }
        let directory = relative.hasSuffix("/") ? relative : relative + "/"
        let what = "the listing of " + address(directory)
        let response = try request(.GET, directory) { .memory(limit: self.settings.limits.listing, what: what) }
        if response.status == .notFound { return [] }
        guard let entries = try? JSONSerialization.jsonObject(with: response.data) as? [[String: Any]] else { return nil }
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
            let what = "the listing of " + address(relative)
            let response = try request(.GET, relative, absolutePath: bucketPath, query: query) { .memory(limit: self.settings.limits.listing, what: what) }
            let xml = String(decoding: response.data, as: UTF8.self)
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
