import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 connection over a TCP socket, kept alive between requests. Bodies go out from
/// memory or a file (`sendfile`) and come back into memory or a file, hashed on the way; every
/// connect, read and write is bounded by `timeout`.
final class HTTPConnection {
    /// A response's status line and headers (names lower-cased).
    struct Head {
        var status: Int
        var headers: [String: String]
    }

    /// Where a response body goes.
    enum Sink {
        case memory
        /// Written to this file descriptor and hashed with SHA-256.
        case file(Int32)
    }

    /// A response body as the sink received it.
    struct Body {
        var data = Data()
        var digest: SHA256.Digest?
        var bytes = 0
    }

    let host: String
    let port: Int
    private let fd: Int32
    /// Bytes read past the end of the last response's head.
    private var buffer = [UInt8]()
    /// What each `recv` reads into.
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)
    private(set) var reusable = true
    /// Whether the connection served an earlier request (the server may have closed it since).
    var reused = false

    init(host: String, port: Int, timeout: Double) throws {
        self.host = host
        self.port = port
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw RemoteError.unreachable("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var lastError = "no address"
        var address: UnsafeMutablePointer<addrinfo>? = first
        var connected: Int32 = -1
        while let info = address {
            address = info.pointee.ai_next
            let socketFD = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard socketFD >= 0 else { continue }
            if let error = Self.connect(socketFD, info.pointee.ai_addr, info.pointee.ai_addrlen, timeout: timeout) {
                lastError = error
                close(socketFD)
                continue
            }
            connected = socketFD
            break
        }
        guard connected >= 0 else { throw RemoteError.unreachable("cannot connect to \(host):\(port): \(lastError)") }
        fd = connected
        var interval = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// A non-blocking connect bounded by `timeout`; nil on success, else the reason.
    private static func connect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t, timeout: Double) -> String? {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if Glibc.connect(fd, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, Int32(timeout * 1000))
        guard ready > 0 else { return ready == 0 ? "timed out after \(timeout) s" : String(cString: strerror(errno)) }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
        return error == 0 ? nil : String(cString: strerror(error))
    }

    /// Sends a request whose body is `data` or the file `file` (nil: no body) and reads the response.
    /// `method` HEAD reads no body.
    func exchange(method: String, target: String, headers: [(String, String)], data: Data? = nil, file: String? = nil,
                  sink: Sink = .memory) throws -> (Head, Body) {
        var bodyLength = data?.count ?? 0
        var fileFD: Int32 = -1
        if let file {
            fileFD = open(file, O_RDONLY | O_CLOEXEC)
            guard fileFD >= 0 else { throw RemoteError.local("cannot read \(file): \(String(cString: strerror(errno)))") }
            var info = stat()
            fstat(fileFD, &info)
            bodyLength = Int(info.st_size)
        }
        defer { if fileFD >= 0 { close(fileFD) } }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if data != nil || file != nil { head += "Content-Length: \(bodyLength)\r\n" }
        head += "\r\n"
        try write(Data(head.utf8))
        if let data { try write(data) }
        if fileFD >= 0 {
            var offset = off_t(0)
            while offset < off_t(bodyLength) {
                let sent = sendfile(fd, fileFD, &offset, bodyLength - Int(offset))
                if sent < 0 {
                    if errno == EINTR { continue }
                    throw failure("sending the body")
                }
                if sent == 0 { throw RemoteError.transfer("\(host):\(port) closed the connection during the upload") }
            }
        }
        let response = try readHead()
        var body = Body()
        if method != "HEAD" && response.status != 204 && response.status != 304 {
            body = try readBody(response, sink: response.status / 100 == 2 ? sink : .memory)
        }
        if response.headers["connection"]?.lowercased() == "close" { reusable = false }
        return (response, body)
    }

    private func failure(_ what: String) -> RemoteError {
        reusable = false
        let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : String(cString: strerror(errno))
        return RemoteError.transfer("\(host):\(port): \(what): \(reason)")
    }

    private func write(_ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EINTR { continue }
                    throw failure("sending the request")
                }
                offset += sent
            }
        }
    }

    /// Reads more bytes into `buffer`; false at the end of the stream.
    private func fill() throws -> Bool {
        let count = try receive(limit: chunk.count)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }

    /// One `recv` of at most `limit` bytes into `chunk`; 0 at the end of the stream.
    private func receive(limit: Int) throws -> Int {
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min(limit, $0.count), 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("reading the response")
            }
            if count == 0 { reusable = false }
            return count
        }
    }

    private func readHead() throws -> Head {
        let end: Int
        while true {
            if let found = Self.find([13, 10, 13, 10], in: buffer) { end = found; break }
            guard buffer.count < 64 << 10 else { throw RemoteError.transfer("\(host):\(port): response head over 64 KiB") }
            guard try fill() else { throw RemoteError.transfer("\(host):\(port) closed the connection before answering") }
        }
        let text = String(decoding: buffer[..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw RemoteError.transfer("\(host):\(port) did not answer HTTP")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Head(status: status, headers: headers)
    }

    private func readBody(_ head: Head, sink: Sink) throws -> Body {
        var body = Body()
        var hasher = SHA256()
        func deliver(_ bytes: ArraySlice<UInt8>) throws {
            body.bytes += bytes.count
            switch sink {
            case .memory:
                body.data.append(contentsOf: bytes)
            case .file(let out):
                hasher.update(data: bytes)
                try bytes.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let written = Glibc.write(out, raw.baseAddress! + offset, raw.count - offset)
                        guard written > 0 else { throw RemoteError.local("cannot write a download: \(String(cString: strerror(errno)))") }
                        offset += written
                    }
                }
            }
        }
        if head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                var lineEnd: Int
                while true {
                    if let found = Self.find([13, 10], in: buffer) { lineEnd = found; break }
                    guard try fill() else { throw RemoteError.transfer("\(host):\(port): truncated chunked body") }
                }
                let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw RemoteError.transfer("\(host):\(port): bad chunk size")
                }
                buffer.removeFirst(lineEnd + 2)
                while buffer.count < size + 2 {
                    guard try fill() else { throw RemoteError.transfer("\(host):\(port): truncated chunked body") }
                }
                if size == 0 {
                    // Trailers are not used; the chunk list ends with an empty line.
                    while Self.find([13, 10], in: buffer) == nil { guard try fill() else { break } }
                    if let found = Self.find([13, 10], in: buffer) { buffer.removeFirst(found + 2) }
                    break
                }
                try deliver(buffer[..<size])
                buffer.removeFirst(size + 2)
            }
        } else if let lengthText = head.headers["content-length"], let length = Int(lengthText) {
            var remaining = length
            let buffered = min(remaining, buffer.count)
            if buffered > 0 {
                try deliver(buffer[..<buffered])
                buffer.removeFirst(buffered)
                remaining -= buffered
            }
            // The rest straight from the socket, never past the body.
            while remaining > 0 {
                let count = try receive(limit: remaining)
                guard count > 0 else { throw RemoteError.transfer("\(host):\(port): body ended \(remaining) bytes early") }
                try deliver(chunk[..<count])
                remaining -= count
            }
        } else {
            // No length: the body runs to the end of the connection.
            while try fill() {
                try deliver(buffer[...])
                buffer.removeAll(keepingCapacity: true)
            }
            reusable = false
        }
        if case .file = sink { body.digest = hasher.finalize() }
        return body
    }

    private static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var i = 0
        while i <= bytes.count - pattern.count {
            if bytes[i] == pattern[0] && Array(bytes[i..<(i + pattern.count)]) == pattern { return i }
            i += 1
        }
        return nil
    }
}
