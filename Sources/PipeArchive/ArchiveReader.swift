import CLibArchive
import Foundation

/// One entry of an archive being read.
public struct ArchiveEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file
        case directory
        /// A symbolic link whose target stays inside the archive's root.
        case symlink(String)
        /// A hard link to an earlier entry.
        case hardlink(String)
    }

    /// The normalized relative path (`a/b/c`).
    public var path: String
    public var kind: Kind
    /// The size the header declares, when it declares one.
    public var declaredSize: Int64?
}

/// Streams an archive (zip, tar, tar.gz, tar.xz, tar.zst, ... as libarchive reads them) entry by
/// entry in bounded memory, refusing unsafe entries and bombs before anything reaches the caller.
public final class ArchiveReader {
    private let archive: OpaquePointer
    private let source: String
    private let limits: ArchiveLimits
    private var entries = 0
    private var totalBytes: Int64 = 0
    /// Damage that does not stop reading, as a phrase (a zip's central directory missing); `warnings` says it.
    public let damage: String?

    /// Problems that do not stop reading, one line each naming the archive: a zip whose central
    /// directory is missing is read from its local headers (check `damage` to refuse it instead).
    public var warnings: [String] { damage.map { ["\(source): \($0)"] } ?? [] }

    /// Opens the archive at `path`. Entry names are read as UTF-8 whatever the process's locale.
    public init(path: String, limits: ArchiveLimits = ArchiveLimits()) throws {
        guard let archive = archive_read_new() else { throw ArchiveError.io("cannot allocate an archive reader") }
        archive_read_support_filter_all(archive)
        archive_read_support_format_all(archive)
        self.archive = archive
        self.source = path
        self.limits = limits
        damage = ZipDirectory.problem(at: path)
        // On failure `deinit` frees the reader.
        let opened = ArchiveLocale.utf8 { archive_read_open_filename(archive, path, 1 << 16) }
        guard opened == ARCHIVE_OK else {
            let message = Self.message(archive)
            throw FileManager.default.fileExists(atPath: path)
                ? ArchiveError.corrupt("\(path): \(message)") : ArchiveError.io("cannot open \(path): no such file")
        }
    }

    deinit { archive_read_free(archive) }

    /// Calls `body` for each entry in archive order. `body` may call `read` once to get the entry's
    /// bytes (checked against the limits as they stream); entries it does not read are skipped.
    public func forEach(_ body: (ArchiveEntry, _ read: () throws -> Data) throws -> Void) throws {
        var header: OpaquePointer?
        while true {
            // Names are converted as the header is read: under the UTF-8 locale.
            let status = ArchiveLocale.utf8 { archive_read_next_header(archive, &header) }
            if status == ARCHIVE_EOF { return }
            guard status == ARCHIVE_OK, let header else {
                throw ArchiveError.corrupt("\(source): \(Self.message(archive))")
            }
            entries += 1
            guard entries <= limits.maxEntries else {
                throw ArchiveError.limitExceeded("\(source) has more than \(limits.maxEntries) entries (an archive bomb?); raise max_entries if it is genuine")
            }
            let entry = try ArchiveLocale.utf8 { try check(header) }
            var consumed = false
            try body(entry) {
                guard !consumed else { throw ArchiveError.io("entry \(entry.path) was already read") }
                consumed = true
                return try self.readData(of: entry)
            }
        }
    }

    private func check(_ header: OpaquePointer) throws -> ArchiveEntry {
        let raw = (archive_entry_pathname_utf8(header) ?? archive_entry_pathname(header)).map { String(cString: $0) } ?? ""
        guard let path = ArchivePath.normalize(raw) else {
            throw ArchiveError.unsafeEntry(raw, reason: "absolute path or `..` would write outside the destination")
        }
        let type = archive_entry_filetype(header) & 0o170000
        let declared = archive_entry_size_is_set(header) != 0 ? archive_entry_size(header) : nil
        if let declared, declared > limits.maxEntryBytes {
            throw ArchiveError.limitExceeded("entry `\(path)` declares \(declared) bytes, over the limit of \(limits.maxEntryBytes)")
        }
        if let target = (archive_entry_hardlink_utf8(header) ?? archive_entry_hardlink(header)).map({ String(cString: $0) }) {
            guard let normalized = ArchivePath.normalize(target) else {
                throw ArchiveError.unsafeEntry(raw, reason: "hard link to `\(target)` outside the destination")
            }
            return ArchiveEntry(path: path, kind: .hardlink(normalized), declaredSize: declared)
        }
        switch type {
        case 0o100000: return ArchiveEntry(path: path, kind: .file, declaredSize: declared)
        case 0o040000: return ArchiveEntry(path: path, kind: .directory, declaredSize: nil)
        case 0o120000:
            let target = (archive_entry_symlink_utf8(header) ?? archive_entry_symlink(header)).map { String(cString: $0) } ?? ""
            guard ArchivePath.linkStaysInside(entry: path, target: target) else {
                throw ArchiveError.unsafeEntry(raw, reason: "symbolic link to `\(target)` points outside the destination")
            }
            return ArchiveEntry(path: path, kind: .symlink(target), declaredSize: nil)
        default:
            throw ArchiveError.unsafeEntry(raw, reason: "device, FIFO or socket entries are not allowed")
        }
    }

    private func readData(of entry: ArchiveEntry) throws -> Data {
        // Read straight into a buffer of the declared size (growing it if the entry holds more); a
        // declared size is not trusted beyond 64 MiB before the bytes arrive.
        var data = Data(count: Int(min(max(entry.declaredSize ?? 0, 0), limits.maxEntryBytes, 64 << 20)) + 1)
        var filled = 0
        while true {
            if filled == data.count { data.count = min(Int(limits.maxEntryBytes) + 1, max(2 * data.count, 1 << 16)) }
            let room = data.count - filled
            let count = data.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress! + filled, room) }
            if count == 0 {
                data.count = filled
                return data
            }
            guard count > 0 else { throw ArchiveError.corrupt("entry `\(entry.path)` of \(source): \(Self.message(archive))") }
            filled += count
            totalBytes += Int64(count)
            if Int64(filled) > limits.maxEntryBytes {
                throw ArchiveError.limitExceeded("entry `\(entry.path)` is larger than \(limits.maxEntryBytes) bytes")
            }
            if totalBytes > limits.maxTotalBytes {
                throw ArchiveError.limitExceeded("\(source) unpacks to more than \(limits.maxTotalBytes) bytes (an archive bomb?)")
            }
            let compressed = max(archive_filter_bytes(archive, -1), 1)
            if totalBytes > limits.ratioGrace, Double(totalBytes) / Double(compressed) > limits.maxCompressionRatio {
                throw ArchiveError.limitExceeded("entry `\(entry.path)` expands more than \(Int(limits.maxCompressionRatio))x (a compression bomb?)")
            }
        }
    }

    static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
    }
}
