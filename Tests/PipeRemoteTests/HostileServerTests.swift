import Foundation
import PipeEngine
@testable import PipeRemote
import PipeTestSupport
import Testing

/// Servers that answer too much, too slowly or not at all: every read is bounded by size and time,
/// and an error is shown as its status and reason, never as the server's page.
struct HostileServerTests {
    /// Answers each connection (after reading its request head) with `respond`, on a thread of its own.
    final class ScriptedServer: @unchecked Sendable {
        let port: Int
        private let fd: Int32

        init(_ respond: @escaping @Sendable (Int32) -> Void) throws {
            guard let (listener, port) = LoopbackListener.open(backlog: 16) else { throw RemoteError.local("cannot listen") }
            fd = listener
            self.port = port
            Thread { [fd] in
                while true {
                    let client = accept(fd, nil, nil)
                    guard client >= 0 else { return }
                    Thread {
                        var head = [UInt8]()
                        var byte: UInt8 = 0
                        while !head.reversed().starts(with: [10, 13, 10, 13]), recv(client, &byte, 1, 0) == 1 { head.append(byte) }
                        respond(client)
                        close(client)
                    }.start()
                }
            }.start()
        }

        func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

        /// Sends `text`; false once the client has gone.
        @discardableResult
        static func send(_ client: Int32, _ text: String) -> Bool {
            text.withCString { Glibc.send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } > 0
        }
    }

    func backend(_ server: ScriptedServer, timeout: Double = 2, limits: RemoteLimits = RemoteLimits()) throws -> RemoteBackend {
        var settings = RemoteSettings(location: "http://127.0.0.1:\(server.port)/", timeout: timeout, retries: 0, backoff: 0.01)
        settings.limits = limits
        return try settings.backend()
    }

    /// The error `body` throws, and how long it took.
    func failure(_ body: () throws -> Void) -> (error: RemoteError?, seconds: Double) {
        let start = Date()
        do {
            try body()
            return (nil, Date().timeIntervalSince(start))
        } catch {
            return (error as? RemoteError, Date().timeIntervalSince(start))
        }
    }

    @Test func aRecordAnnouncedAsHugeIsRefusedUnread() throws {
        let server = try ScriptedServer { ScriptedServer.send($0, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"); sleep(5) }
        defer { server.stop() }
        let (error, seconds) = failure { _ = try backend(server).read("actions/ab/x.json") }
        guard case .corrupt(let text) = try #require(error) else { Issue.record("\(String(describing: error))"); return }
        #expect(text.contains("104857600 bytes for http://127.0.0.1:\(server.port)/actions/ab/x.json, over the limit of 4194304 bytes"), "\(text)")
        #expect(seconds < 3)
    }

    @Test(arguments: ["record", "listing", "object"])
    func anEndlessBodyIsCutAtItsLimit(what: String) throws {
        let server = try ScriptedServer { client in
            guard ScriptedServer.send(client, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") else { return }
            let chunk = "10000\r\n" + String(repeating: "x", count: 1 << 16) + "\r\n"
            while ScriptedServer.send(client, chunk) {}
        }
        defer { server.stop() }
        var limits = RemoteLimits()
        limits.object = 1 << 20
        let remote = try backend(server, limits: limits)
        let directory = try TemporaryDirectory("hostile")
        let (error, seconds) = failure {
            switch what {
            case "record": _ = try remote.read("actions/ab/x.json")
            case "listing": _ = try remote.list("actions")
            default: _ = try remote.download("objects/ab/cd", to: directory.path + "/object")
            }
        }
        guard case .corrupt(let text) = try #require(error) else { Issue.record("\(String(describing: error))"); return }
        let limit = ["record": 4 << 20, "listing": 32 << 20, "object": 1 << 20][what]!
        #expect(text.contains("sent more bytes for") && text.contains("over the limit of \(limit) bytes"), "\(text)")
        #expect(seconds < 10)
    }

    @Test func aTrickleIsCutOffAtTheDeadline() throws {
        let server = try ScriptedServer { client in
            guard ScriptedServer.send(client, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n") else { return }
            // One byte every 0.1 s: never idle for the timeout, but hopelessly slow.
            while ScriptedServer.send(client, "x") { usleep(100_000) }
        }
        defer { server.stop() }
        let directory = try TemporaryDirectory("hostile")
        let (error, seconds) = failure { _ = try backend(server, timeout: 0.5).download("objects/ab/cd", to: directory.path + "/object") }
        guard case .transfer(let text) = try #require(error) else { Issue.record("\(String(describing: error))"); return }
        #expect(text.contains("transfer too slow") && text.contains("below 256 KiB/s after a grace of 3 s"), "\(text)")
        #expect(seconds >= 3 && seconds < 8, "\(seconds)")
    }

    @Test func aSilentServerTimesOut() throws {
        let server = try ScriptedServer { _ in sleep(10) }
        defer { server.stop() }
        let (error, seconds) = failure { _ = try backend(server, timeout: 0.5).read("actions/ab/x.json") }
        guard case .transfer(let text) = try #require(error) else { Issue.record("\(String(describing: error))"); return }
        #expect(text.contains("GET /actions/ab/x.json: no bytes for 0.5 s"), "\(text)")
        #expect(seconds < 3, "\(seconds)")
    }

    @Test func anErrorPageIsShownAsItsStatusNotItsHTML() throws {
        let page = "<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>"
        let server = try ScriptedServer { ScriptedServer.send($0, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: \(page.utf8.count)\r\n\r\n\(page)") }
        defer { server.stop() }
        let (error, _) = failure { _ = try backend(server).read("actions/ab/x.json") }
        let remote = try #require(error)
        #expect(remote == .status(500, "Internal Server Error on GET http://127.0.0.1:\(server.port)/actions/ab/x.json"))
        #expect(remote.description == "HTTP 500 Internal Server Error on GET http://127.0.0.1:\(server.port)/actions/ab/x.json")
    }
}
