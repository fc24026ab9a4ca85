import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the action cache holds for a key: the stage's output tree and how it was made.
public struct ActionRecord: Codable, Equatable, Sendable {
    public var key: Digest
    /// The output tree's Merkle digest.
    public var output: Digest
    /// The captured stdout/stderr, stored as an object.
    public var log: Digest?
    /// Everything the key was computed from.
    public var material: KeyValue
    public var stage: String
    public var kind: String
    public var files: Int
    public var bytes: Int
    public var seconds: Double
    public var created: Date

    public init(key: Digest, output: Digest, log: Digest?, material: KeyValue, stage: String, kind: String,
                files: Int, bytes: Int, seconds: Double, created: Date) {
        self.key = key
        self.output = output
        self.log = log
        self.material = material
        self.stage = stage
        self.kind = kind
        self.files = files
        self.bytes = bytes
        self.seconds = seconds
        self.created = created
    }
}

extension ActionRecord {
    /// The record as stored in a file (locally and on a remote): the header line
    /// `pipe-action 1 <output> <log or ->`, then the JSON.
    public func fileData() throws -> Data {
        var data = Data("pipe-action 1 \(output.hex) \(log?.hex ?? "-")\n".utf8)
        data.append(try FileActionCache.encoder.encode(self))
        return data
    }

    /// Decodes a record file; nil when it is not one or is the record of another key.
    public init?(fileData data: Data, key: Digest) {
        guard let newline = data.firstIndex(of: 0x0a),
              let record = try? FileActionCache.decoder.decode(ActionRecord.self, from: data[data.index(after: newline)...]),
              record.key == key else { return nil }
        self = record
    }
}

/// Cache key -> record. A record is written only after every object it names is stored.
public protocol ActionCache: AnyObject, Sendable {
    /// The output and log digests of a record: all a cache hit needs, and fast to read.
    func hit(for key: Digest) throws -> (output: Digest, log: Digest?)?
    /// The whole record, with its key material.
    func record(for key: Digest) throws -> ActionRecord?
    func store(_ record: ActionRecord) throws
    func remove(_ key: Digest) throws
    func allKeys() throws -> [Digest]
}

/// An action cache in memory, for tests.
public final class MemoryActionCache: ActionCache, @unchecked Sendable {
    private var records: [Digest: ActionRecord] = [:]
    private let lock = NSLock()
    public init() {}
    public func hit(for key: Digest) throws -> (output: Digest, log: Digest?)? {
        guard let record = lock.withLock({ records[key] }) else { return nil }
        return (record.output, record.log)
    }
    public func record(for key: Digest) throws -> ActionRecord? { lock.withLock { records[key] } }
    public func store(_ record: ActionRecord) throws { lock.withLock { records[record.key] = record } }
    public func remove(_ key: Digest) throws { _ = lock.withLock { records.removeValue(forKey: key) } }
    public func allKeys() throws -> [Digest] { lock.withLock { Array(records.keys) } }
}

/// An action cache in a directory: `actions/ab/<key>.json`, each written atomically. The first line
/// (`pipe-action 1 <output> <log or ->`) lets a cache hit skip decoding the JSON that follows it.
public final class FileActionCache: ActionCache, @unchecked Sendable {
    let directory: String
    let temporaryDirectory: String

    public init(root: String, temporaryDirectory: String) throws {
        directory = root + "/actions"
        self.temporaryDirectory = temporaryDirectory
        try FileSystem.makeDirectory(directory)
    }

    func path(of key: Digest) -> String { "\(directory)/\(key.hex.prefix(2))/\(key.hex).json" }

    public func hit(for key: Digest) throws -> (output: Digest, log: Digest?)? {
        // Only the header line is read: "pipe-action 1 " + 64 + " " + (64 or "-") + "\n" is at most 145 bytes.
        let fd = open(path(of: key), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 160)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let newline = buffer[..<count].firstIndex(of: 0x0a) else { throw corrupt(key) }
        let fields = buffer[..<newline].split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 4, fields[0] == "pipe-action", fields[1] == "1", let output = Digest(hex: fields[2]) else {
            throw corrupt(key)
        }
        return (output, Digest(hex: fields[3]))
    }

    /// A record that cannot be decoded is reported as corrupt; the caller recomputes the stage.
    public func record(for key: Digest) throws -> ActionRecord? {
        guard let data = FileManager.default.contents(atPath: path(of: key)) else { return nil }
        guard let record = ActionRecord(fileData: data, key: key) else { throw corrupt(key) }
        return record
    }

    private func corrupt(_ key: Digest) -> EngineError {
        EngineError.corruptObject(key, detail: "action record \(path(of: key)) is unreadable")
    }

    public func store(_ record: ActionRecord) throws {
        try FileSystem.writeAtomically(try record.fileData(), to: path(of: record.key), temporaryDirectory: temporaryDirectory)
    }

    public func remove(_ key: Digest) throws { unlink(path(of: key)) }

    public func allKeys() throws -> [Digest] {
        var keys: [Digest] = []
        for prefix in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(prefix)")) ?? [] where name.hasSuffix(".json") {
                if let key = Digest(hex: String(name.dropLast(5))) { keys.append(key) }
            }
        }
        return keys
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
