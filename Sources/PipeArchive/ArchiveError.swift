/// Why an archive was refused or could not be read or written. Messages name the entry.
public enum ArchiveError: Error, Equatable, CustomStringConvertible {
    /// An entry that could write outside the destination or is not a plain file, directory or safe link.
    case unsafeEntry(String, reason: String)
    /// A limit on entries, sizes or compression ratio was exceeded.
    case limitExceeded(String)
    /// A damaged or truncated archive, or one libarchive cannot read.
    case corrupt(String)
    /// A file could not be opened or written.
    case io(String)

    public var description: String {
        switch self {
        case .unsafeEntry(let entry, let reason): return "refused entry `\(entry)`: \(reason)"
        case .limitExceeded(let message): return message
        case .corrupt(let message): return "corrupt or truncated archive: \(message)"
        case .io(let message): return message
        }
    }
}

/// Limits that stop archive bombs; every one is checked against bytes actually read, not headers.
public struct ArchiveLimits: Sendable, Equatable {
    /// Most entries in one archive.
    public var maxEntries: Int
    /// Most uncompressed bytes in all entries together.
    public var maxTotalBytes: Int64
    /// Most uncompressed bytes in one entry.
    public var maxEntryBytes: Int64
    /// Most uncompressed bytes per compressed byte read, checked once past `ratioGrace` bytes.
    public var maxCompressionRatio: Double
    public var ratioGrace: Int64

    public init(maxEntries: Int = 2_000_000, maxTotalBytes: Int64 = 64 << 30, maxEntryBytes: Int64 = 4 << 30,
                maxCompressionRatio: Double = 200, ratioGrace: Int64 = 16 << 20) {
        self.maxEntries = maxEntries
        self.maxTotalBytes = maxTotalBytes
        self.maxEntryBytes = maxEntryBytes
        self.maxCompressionRatio = maxCompressionRatio
        self.ratioGrace = ratioGrace
    }
}
