import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// Takes one response as it arrives: a successful body into memory or a file (hashed on the way),
/// refused past its sink's limit; an error body kept only up to 64 KiB. Also keeps the clock of
/// the exchange: `overdue()` says when it has taken longer than its grace plus the bytes moved at
/// the minimum rate. Called on its event loop only; read by the waiting thread after the end.
final class ResponseCollector: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = HTTPTransport.Response

    /// A refusal of the collector's own (too large, too slow), passed through as it is.
    struct Refusal: Error {
        var error: RemoteError
    }

    /// Bytes of an error response kept (to read an S3 error code from).
    static let errorBodyLimit = 64 << 10

    private let sink: HTTPTransport.Sink
    /// A HEAD's answer: its Content-Length is the object's, not a body to come.
    private let bodiless: Bool
    private let started = NIODeadline.now()
    private let grace: Double
    private let minimumRate: Int
    private var moved = 0
    private var head: HTTPResponseHead?
    private var data = Data()
    private var hasher: SHA256?
    private var output: Int32 = -1
    private var limit = 0
    private(set) var expectedLength: Int?
    private(set) var received = 0
    var receivedHead: Bool { head != nil }

    init(sink: HTTPTransport.Sink, bodiless: Bool, grace: Double, minimumRate: Int) {
        self.sink = sink
        self.bodiless = bodiless
        self.grace = grace
        self.minimumRate = max(1, minimumRate)
    }

    deinit { if output >= 0 { close(output) } }

    /// A refusal when the exchange has run past `grace + moved / minimumRate` seconds.
    func overdue() -> Refusal? {
        let allowed = grace + Double(moved) / Double(minimumRate)
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        guard elapsed > allowed else { return nil }
        let rate = Double(minimumRate) / 1024
        return Refusal(error: .transfer("transfer too slow: \(moved) bytes in \(Int(elapsed)) s, below \(Int(rate)) KiB/s "
                                        + "after a grace of \(Int(grace)) s"))
    }

    func didSendRequestPart(task: HTTPClient.Task<Response>, _ part: IOData) {
        moved += part.readableBytes
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        self.head = head
        expectedLength = bodiless ? nil : head.headers.first(name: "content-length").flatMap { Int($0) }
        let success = head.status.code / 100 == 2
        switch sink {
        case .file(let fd, let cap) where success:
            output = dup(fd)
            guard output >= 0 else { return task.eventLoop.makeFailedFuture(Refusal(error: .local("cannot write a download: \(String(cString: strerror(errno)))"))) }
            hasher = SHA256()
            limit = cap
        case .memory(let cap, _) where success:
            limit = cap
        default:
            limit = Self.errorBodyLimit
        }
        if success, let expected = expectedLength, expected > limit {
            return task.eventLoop.makeFailedFuture(tooLarge(announced: expected))
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        received += buffer.readableBytes
        moved += buffer.readableBytes
        if received > limit {
            // An error page longer than what is kept is cut, not refused: its status is the news.
            guard let code = head?.status.code, code / 100 == 2 else { return task.eventLoop.makeSucceededVoidFuture() }
            return task.eventLoop.makeFailedFuture(tooLarge(announced: nil))
        }
        if hasher != nil {
            do {
                try buffer.withUnsafeReadableBytes { raw in
                    hasher!.update(bufferPointer: raw)
                    try Self.write(raw, to: output)
                }
            } catch {
                return task.eventLoop.makeFailedFuture(error)
            }
        } else {
            data.append(contentsOf: buffer.readableBytesView)
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        guard let head else { throw Refusal(error: .transfer("no response")) }
        return Response(status: head.status, headers: head.headers, data: data, digest: hasher?.finalize())
    }

    private func tooLarge(announced: Int?) -> Refusal {
        let size = announced.map { "\($0) bytes" } ?? "more bytes"
        switch sink {
        case .memory(_, let what):
            return Refusal(error: .corrupt("the remote sent \(size) for \(what), over the limit of \(limit) bytes; refused"))
        case .file:
            return Refusal(error: .corrupt("the remote sent \(size) for an object, over the limit of \(limit) bytes; discarded"))
        }
    }

    private static func write(_ raw: UnsafeRawBufferPointer, to fd: Int32) throws {
        var offset = 0
        while offset < raw.count {
            let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw Refusal(error: .local("cannot write a download: \(String(cString: strerror(errno)))")) }
            offset += written
        }
    }
}
