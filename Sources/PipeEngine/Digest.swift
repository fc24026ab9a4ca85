import Crypto
import Foundation

/// A SHA-256 digest, written as 64 lower-case hex digits.
public struct Digest: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let hex: String

    /// Wraps 64 hex digits; nil for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        self.hex = hex
    }

    /// The hex form of a finished hash.
    public init<D: Crypto.Digest>(_ digest: D) {
        var text = ""
        text.reserveCapacity(64)
        for byte in digest {
            text.append(Digest.hexDigits[Int(byte >> 4)])
            text.append(Digest.hexDigits[Int(byte & 0x0f)])
        }
        self.hex = text
    }

    private static let hexDigits = Array("0123456789abcdef")

    /// The digest of some bytes.
    public static func of(_ data: some DataProtocol) -> Digest { Digest(SHA256.hash(data: data)) }

    /// The digest of a regular file's content (a FIFO, device or socket is refused unopened; links
    /// are followed unless `followingLinks` is false).
    public static func of(fileAt path: String, followingLinks: Bool = true) throws -> Digest {
        let descriptor = try FileSystem.openRegularFile(path, followingLinks: followingLinks)
        defer { close(descriptor) }
        var hasher = SHA256()
        // One 256 KiB buffer, read into again and again, stays in the cache: a new chunk per read
        // would be allocated, faulted in and freed each time.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress!, buffer.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw EngineError.io("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        return Digest(hasher.finalize())
    }

    /// `sha256:` and the first 12 hex digits, for people.
    public var short: String { "sha256:" + hex.prefix(12) }
    public var description: String { "sha256:" + hex }
    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = Digest(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a digest: \(text)"))
        }
        self = digest
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

/// Everything the engine can fail with, rendered to text in one place.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    /// A stored object whose bytes do not hash to its name.
    case corruptObject(Digest, detail: String)
    /// An object that should be in the store is not.
    case missingObject(Digest)
    /// A stage output the store cannot hold (a link, a device, a bad name).
    case unsupportedOutput(String)
    /// A file-system operation failed.
    case io(String)
    /// A path that had to be a regular file is something else: (path, what it is, e.g. "a FIFO").
    case specialFile(String, String)
    /// A tree over `Tree.Limits`: (its root, which limit).
    case treeTooLarge(Digest, String)

    public var description: String {
        switch self {
        case .corruptObject(let digest, let detail): return "corrupted object \(digest.short): \(detail)"
        case .missingObject(let digest): return "missing object \(digest.short)"
        case .unsupportedOutput(let text): return text
        case .io(let text): return text
        case .specialFile(let path, let what): return "\(path) is \(what), not a regular file"
        case .treeTooLarge(let digest, let detail): return "tree \(digest.short) refused: \(detail)"
        }
    }
}
