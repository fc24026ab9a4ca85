import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// The client an HTTP or S3 remote speaks through: AsyncHTTPClient on an event-loop group of its
/// own, kept-alive HTTP/1.1 connections, `https` certificates verified against the system's trust
/// store (or `SSL_CERT_FILE`) and a remote's `ca-file`. Its calls block: `RemoteBackend` is
/// synchronous and called from many threads at once; each request runs on the group while the
/// calling thread waits for its end.
///
/// Every request is bounded: a connect and a TLS handshake by the timeout, each wait for more bytes
/// by the timeout, the whole exchange by a deadline that grows with the bytes moved (6 x the
/// timeout, then `RemoteLimits.minimumRate`), and a response body by the `Sink`'s limit.
final class HTTPTransport: @unchecked Sendable {
    /// Where requests go.
    struct Origin: Sendable {
        var secure: Bool
        var host: String
        var port: Int

        /// `host`, or `host:port` for a port other than the scheme's: the Host header, as signed.
        var authority: String {
            let name = host.contains(":") ? "[\(host)]" : host
            return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
        }

        var url: String { (secure ? "https://" : "http://") + authority }
    }

    /// A request body.
    enum Body {
        case none
        case data(Data)
        /// The file's bytes, streamed from the disk.
        case file(String)
    }

    /// Where a successful response's body goes and how many bytes it may have. An error response's
    /// body is kept only up to 64 KiB (an S3 error code is read from it) and never shown.
    enum Sink {
        /// Into memory; `what` names it in the message when it is too large (`a record`).
        case memory(limit: Int, what: String)
        /// Written to this file descriptor, hashed with SHA-256 on the way.
        case file(Int32, limit: Int)
    }

    /// A response: its status, headers and the body as the sink took it.
    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var data: Data
        var digest: SHA256.Digest?
    }

    let origin: Origin
    let timeout: Double
    let limits: RemoteLimits
    private let group: MultiThreadedEventLoopGroup
    private let client: HTTPClient

    init(origin: Origin, settings: RemoteSettings, environment: [String: String]) throws {
        self.origin = origin
        timeout = settings.timeout
        limits = settings.limits
        let wait = TimeAmount.nanoseconds(Int64(settings.timeout * 1e9))
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: wait, read: wait, write: wait))
        if origin.secure {
            configuration.tlsConfiguration = try Self.tlsConfiguration(caFile: settings.caFile, environment: environment)
        }
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, settings.parallel))
        // A refused connection fails at once: the backend's own retries (with backoff) decide.
        configuration.connectionPool.retryConnectionEstablishment = false
        group = MultiThreadedEventLoopGroup(numberOfThreads: min(max(1, System.coreCount), 4))
        client = HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

    deinit {
        try? client.syncShutdown()
        try? group.syncShutdownGracefully()
    }

    /// The trust for https: the system's authorities (`SSL_CERT_FILE`'s instead, when set), and
    /// besides them those of `PIPE_REMOTE_CA_FILE`, else of `caFile`. A file that cannot be read is
    /// a configuration error quoting it.
    static func tlsConfiguration(caFile: String?, environment: [String: String]) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let bundle = environment["SSL_CERT_FILE"], !bundle.isEmpty {
            tls.trustRoots = .certificates(try certificates(bundle, origin: "SSL_CERT_FILE"))
        }
        if let variable = environment["PIPE_REMOTE_CA_FILE"], !variable.isEmpty {
            tls.additionalTrustRoots = [.certificates(try certificates(variable, origin: "PIPE_REMOTE_CA_FILE"))]
        } else if let caFile {
            tls.additionalTrustRoots = [.certificates(try certificates(caFile, origin: "remote ca-file"))]
        }
        return tls
    }

    private static func certificates(_ path: String, origin: String) throws -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RemoteError.configuration("\(origin) `\(path)`: no such readable file; expected a PEM bundle of CA certificates")
        }
        let certificates = try? NIOSSLCertificate.fromPEMFile(path)
        guard let certificates, !certificates.isEmpty else {
            throw RemoteError.configuration("\(origin) `\(path)`: not a PEM bundle of certificates (-----BEGIN CERTIFICATE-----)")
        }
        return certificates
    }

    /// Sends one request and waits for its response. `target` is the encoded path and query.
    func exchange(_ method: HTTPMethod, _ target: String, headers: [(String, String)], body: Body, sink: Sink) throws -> Response {
        var fields = HTTPHeaders(headers)
        fields.replaceOrAdd(name: "Host", value: origin.authority)
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: origin.url + target, method: method, headers: fields, body: try requestBody(body))
        } catch let error as RemoteError {
            throw error
        } catch {
            throw RemoteError.configuration("remote \(origin.url)\(target): not a usable address (\(error))")
        }
        let eventLoop = group.next()
        let collector = ResponseCollector(sink: sink, bodiless: method == .HEAD, grace: 6 * timeout, minimumRate: limits.minimumRate)
        let task = client.execute(request: request, delegate: collector, eventLoop: .delegate(on: eventLoop))
        // A server that trickles (or a body that would take days) is cut off at the deadline.
        let watchdog = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { _ in
            if let overdue = collector.overdue() { task.fail(reason: overdue) }
        }
        defer { watchdog.cancel() }
        do {
            return try task.wait()
        } catch {
            throw describe(error, method: method, target: target, collector: collector)
        }
    }

    private func requestBody(_ body: Body) throws -> HTTPClient.Body? {
        switch body {
        case .none: return nil
        case .data(let data): return .bytes(data)
        case .file(let path):
            let chunks = try FileChunks(path: path)
            guard chunks.size > 0 else { return .bytes(Data()) }
            let eventLoop = group.next()
            return .stream(contentLength: Int64(chunks.size)) { writer in chunks.pump(into: writer, on: eventLoop) }
        }
    }

    /// A failed exchange as a `RemoteError`: configuration problems (an untrusted certificate) are
    /// not transient; a refused or timed-out connect is `unreachable`; the rest a `transfer`.
    private func describe(_ error: Error, method: HTTPMethod, target: String, collector: ResponseCollector) -> RemoteError {
        let place = origin.url
        if let refusal = error as? ResponseCollector.Refusal { return refusal.error }
        if let expected = collector.expectedLength, collector.receivedHead, collector.received < expected {
            return .transfer("\(place): \(method.rawValue) \(target): body ended \(expected - collector.received) bytes early")
        }
        if let tls = Self.tlsProblem(error, host: origin.host) { return tls }
        if let connection = error as? NIOConnectionError {
            let reasons = connection.connectionErrors.map { Self.reason($0.error) }
            return .unreachable("cannot connect to \(place): \(reasons.first ?? "no address for \(connection.host)")")
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel {
            return .unreachable("cannot connect to \(place): timed out after \(Self.seconds(timeout))")
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
                return .unreachable("cannot connect to \(place): timed out after \(Self.seconds(timeout))")
            case .readTimeout:
                return .transfer("\(place): \(method.rawValue) \(target): no bytes for \(Self.seconds(timeout))")
            case .writeTimeout:
                return .transfer("\(place): \(method.rawValue) \(target): the server took no bytes for \(Self.seconds(timeout))")
            case .remoteConnectionClosed:
                return .transfer("\(place): \(method.rawValue) \(target): the server closed the connection")
            default:
                return .transfer("\(place): \(method.rawValue) \(target): \(client.shortDescription)")
            }
        }
        if !collector.receivedHead, let io = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(io.errnoCode) {
            return .unreachable("cannot connect to \(place): \(Self.reason(io))")
        }
        return .transfer("\(place): \(method.rawValue) \(target): \(Self.reason(error))")
    }

    /// An untrusted certificate, a certificate for another name, or no TLS at all on the port.
    static func tlsProblem(_ error: Error, host: String) -> RemoteError? {
        let hint = "hint: add its CA with `ca-file: /path/ca.pem` under `remote:` in pipe.yaml (or PIPE_REMOTE_CA_FILE)"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .configuration("certificate of \(host) is not trusted: it is issued for another name than \(host); "
                                  + "hint: use the name the certificate gives in the remote's address")
        }
        guard let tls = error as? NIOSSLError, case .handshakeFailed(let inner) = tls else { return nil }
        let text = "\(inner)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return .configuration("certificate of \(host) is not trusted: no trusted CA signed it (or it expired); \(hint)")
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") {
            return .configuration("\(host) does not speak TLS on this port; hint: use http:// for it, or its https port")
        }
        return .configuration("TLS handshake with \(host) failed: \(text)")
    }

    static func reason(_ error: Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// A file read in 1 MiB chunks for a streamed request body, each written when the connection has
/// taken the last. Owns its descriptor.
final class FileChunks: @unchecked Sendable {
    let path: String
    let size: Int
    private let fd: Int32
    private static let chunk = 1 << 20

    init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RemoteError.local("cannot read \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        fstat(fd, &info)
        self.path = path
        size = Int(info.st_size)
    }

    deinit { close(fd) }

    /// The offset of the next chunk; used on one event loop only.
    private final class Cursor: @unchecked Sendable {
        var value = 0
    }

    /// Writes the whole file to `writer` (from its start: a retried request streams it again).
    func pump(into writer: HTTPClient.Body.StreamWriter, on eventLoop: EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let cursor = Cursor()
        @Sendable func next() {
            let offset = cursor.value
            guard offset < size else { return promise.succeed(()) }
            let wanted = min(Self.chunk, size - offset)
            var buffer = ByteBufferAllocator().buffer(capacity: wanted)
            var failure: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { raw in
                let count = pread(fd, raw.baseAddress, wanted, off_t(offset))
                if count < 0 { failure = errno }
                return max(0, count)
            }
            guard buffer.readableBytes > 0 else {
                let reason = failure != 0 ? String(cString: strerror(failure)) : "the file shrank"
                return promise.fail(RemoteError.local("cannot read \(path): \(reason)"))
            }
            cursor.value = offset + buffer.readableBytes
            writer.write(.byteBuffer(buffer)).hop(to: eventLoop).whenComplete { result in
                switch result {
                case .success: eventLoop.execute { next() }
                case .failure(let error): promise.fail(error)
                }
            }
        }
        eventLoop.execute { next() }
        return promise.futureResult
    }
}
