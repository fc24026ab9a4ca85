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
    /// Who vouches for the link from `key` to `output` and `log`; nil for an unsigned record.
    public var signature: RecordSignature?

    public init(key: Digest, output: Digest, log: Digest?, material: KeyValue, stage: String, kind: String,
                files: Int, bytes: Int, seconds: Double, created: Date, signature: RecordSignature? = nil) {
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
        self.signature = signature
    }

    /// The bytes a signature covers: `pipe-action 1;<key>;<output>;<log or ->`. The key material is
    /// covered through the key, which a valid record's material hashes to.
    public var fingerprint: Data {
        Data("pipe-action 1;\(key.hex);\(output.hex);\(log?.hex ?? "-")".utf8)
    }
}

/// A signature of a record's `fingerprint`, as stored in the record's JSON (`"signature": {...}`),
/// so that readers that predate signatures still read signed records.
public struct RecordSignature: Codable, Equatable, Sendable {
    /// The signer's public key as text: `NAME:BASE64`.
    public var signer: String
    /// The Ed25519 signature, base64.
    public var value: String

    public init(signer: String, value: String) {
        self.signer = signer
        self.value = value
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
        guard let record = try? ActionRecord(validating: data, key: key) else { return nil }
        self = record
    }

    /// Decodes a record file and checks that it is the record of `key`: its header agrees with its
    /// JSON, it names `key`, and its key material hashes to `key`. Throws `RecordDefect` otherwise.
    public init(validating data: Data, key: Digest) throws {
        guard let newline = data.firstIndex(of: 0x0a), let header = Self.header(data[..<newline]),
              let record = try? FileActionCache.decoder.decode(ActionRecord.self, from: data[data.index(after: newline)...]) else {
            throw RecordDefect.unreadable
        }
        guard record.key == key else { throw RecordDefect.otherKey(record.key) }
        guard header.output == record.output, header.log == record.log else { throw RecordDefect.headerDisagrees }
        let hashed = record.material.digest
        guard hashed == key else { throw RecordDefect.materialMismatch(hashed) }
        self = record
    }

    /// The output and log of a header line `pipe-action 1 <output> <log or ->`.
    static func header<Bytes: Collection<UInt8>>(_ line: Bytes) -> (output: Digest, log: Digest?)? {
        let fields = line.split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 4, fields[0] == "pipe-action", fields[1] == "1", let output = Digest(hex: fields[2]) else { return nil }
        if fields[3] == "-" { return (output, nil) }
        guard let log = Digest(hex: fields[3]) else { return nil }
        return (output, log)
    }
}

/// Why a record file is not a valid record of the key it is filed under.
public enum RecordDefect: Error, CustomStringConvertible, Equatable {
    case unreadable
    /// The record is another key's (a copied or renamed file).
    case otherKey(Digest)
    /// The header line names another output or log than the JSON.
    case headerDisagrees
    /// The key material hashes to another key: edited after it was written.
    case materialMismatch(Digest)

    public var description: String {
        switch self {
        case .unreadable: return "not a readable action record"
        case .otherKey(let other): return "it is the record of another key, \(other.short)"
        case .headerDisagrees: return "its header line and its JSON name different outputs"
        case .materialMismatch(let hashed): return "its key material hashes to \(hashed.short), not to its key"
        }
    }
}

/// Cache key -> record. A record is written only after every object it names is stored.
public protocol ActionCache: AnyObject, Sendable {
    /// The output and log digests of a valid record of `key`: all a cache hit needs.
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

/// An action cache in a directory: `actions/ab/<key>.json`, each written atomically: a header line
/// `pipe-action 1 <output> <log or ->`, then the record's JSON.
public final class FileActionCache: ActionCache, @unchecked Sendable {
    let directory: String
    let temporaryDirectory: String

    public init(root: String, temporaryDirectory: String) throws {
        directory = root + "/actions"
        self.temporaryDirectory = temporaryDirectory
        try FileSystem.makeDirectory(directory)
    }

    func path(of key: Digest) -> String { "\(directory)/\(key.hex.prefix(2))/\(key.hex).json" }

    /// A hit reads the whole record and checks it (`ActionRecord(validating:key:)`): a record filed
    /// under another key, or whose material was edited, is not a hit but an error, and the executor
    /// then removes it and recomputes the stage.
    public func hit(for key: Digest) throws -> (output: Digest, log: Digest?)? {
        guard let record = try record(for: key) else { return nil }
        return (record.output, record.log)
    }

    /// A record that cannot be decoded, or that is not a valid record of `key`, is reported as
    /// corrupt; the caller recomputes the stage.
    public func record(for key: Digest) throws -> ActionRecord? {
        guard let data = FileManager.default.contents(atPath: path(of: key)) else { return nil }
        do {
            return try ActionRecord(validating: data, key: key)
        } catch let defect as RecordDefect {
            throw EngineError.corruptObject(key, detail: "action record \(path(of: key)) is ignored: \(defect)")
        }
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
