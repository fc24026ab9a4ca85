#if canImport(Glibc)
import Glibc
#endif

/// JSON text built byte by byte and written to a file through a 1 MiB buffer, for the large files
/// where `JSONEncoder` is too slow. A small buffer written often stays in the cache, where one
/// buffer for the whole file would fault in fresh pages all along.
struct JSONText {
    private var bytes: [UInt8] = []
    private var descriptor: Int32
    private let path: String
    private static let bufferSize = 1 << 20

    /// Creates (or empties) the file at `path`.
    init(writingTo path: String) throws {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw DatasetError("cannot write \(path): \(String(cString: strerror(errno)))") }
        self.path = path
        bytes.reserveCapacity(Self.bufferSize + (64 << 10))
    }

    /// Writes the buffer out once it holds 1 MiB; call between pieces of the text.
    mutating func flushIfFull() throws {
        if bytes.count >= Self.bufferSize { try flush() }
    }

    /// Writes the rest of the text and closes the file.
    mutating func finish() throws {
        try flush()
        close()
    }

    /// Closes the file, if still open, without writing the buffer.
    mutating func close() {
        guard descriptor >= 0 else { return }
        closeFile(descriptor)
        descriptor = -1
    }

    private mutating func flush() throws {
        let (descriptor, path) = (self.descriptor, self.path)
        try bytes.withUnsafeBytes { try writeAll(descriptor, $0, path: path) }
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends constant JSON text as it is.
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends an integer in decimal (a small string: no allocation).
    mutating func int(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }

    /// Appends `text` as a JSON string: quotes, backslashes and control characters escaped.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        // Most strings need no escaping: copy them whole.
        let done = text.withUTF8 { utf8 -> Bool in
            // Non-ASCII text takes the slow path too, which copies it unchanged.
            guard PlainText.end(in: utf8, from: 0) == utf8.count else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if done {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [0x5c, 0x22]
            case UInt8(ascii: "\\"): bytes += [0x5c, 0x5c]
            case 0x0a: bytes += [0x5c, UInt8(ascii: "n")]
            case 0x0d: bytes += [0x5c, UInt8(ascii: "r")]
            case 0x09: bytes += [0x5c, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [0x5c, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

private func closeFile(_ descriptor: Int32) { _ = close(descriptor) }

/// Writes all of `buffer` to `descriptor` with write(2), retrying interrupted and short writes.
func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
    var offset = 0
    while offset < buffer.count {
        let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { throw DatasetError("cannot write \(path): \(String(cString: strerror(errno)))") }
        offset += written
    }
}
