import CLibArchive
import Foundation

/// Writes a zip, tar.gz, tar.xz or tar.zst deterministically: entries in the order given, fixed
/// times, owners and modes, no gzip timestamp, so the same entries give the same bytes. Names are
/// written as UTF-8 (zip's UTF-8 flag, pax headers) whatever the process's locale.
public final class ArchiveWriter {
    public enum Format: String, Sendable {
        case zip
        case tarGzip = "tar.gz"
        case tarXz = "tar.xz"
        case tarZstd = "tar.zst"
    }

    private let archive: OpaquePointer
    private let path: String
    private var finished = false
    /// 2000-01-01T00:00:00Z, the time every entry carries.
    static let fixedTime: time_t = 946_684_800

    public init(path: String, format: Format) throws {
        guard let archive = archive_write_new() else { throw ArchiveError.io("cannot allocate an archive writer") }
        self.archive = archive
        self.path = path
        // Name conversions are set up with the format, under the locale they will run in.
        try ArchiveLocale.utf8 { try Self.open(archive, path: path, format: format) }
    }

    private static func open(_ archive: OpaquePointer, path: String, format: Format) throws {
        switch format {
        case .zip:
            archive_write_set_format_zip(archive)
            // Names stored as UTF-8 with the zip's UTF-8 flag, so every reader decodes them alike.
            archive_write_set_format_option(archive, "zip", "hdrcharset", "UTF-8")
        case .tarGzip:
            archive_write_set_format_pax_restricted(archive)
            archive_write_add_filter_gzip(archive)
            archive_write_set_filter_option(archive, "gzip", "timestamp", nil)
        case .tarXz:
            archive_write_set_format_pax_restricted(archive)
            archive_write_add_filter_xz(archive)
        case .tarZstd:
            archive_write_set_format_pax_restricted(archive)
            archive_write_add_filter_zstd(archive)
        }
        // On failure `deinit` frees the writer.
        guard archive_write_open_filename(archive, path) == ARCHIVE_OK else {
            let message = ArchiveReader.message(archive)
            throw ArchiveError.io("cannot write \(path): \(message)")
        }
    }

    deinit {
        if !finished { archive_write_free(archive) }
    }

    /// Adds a regular file.
    public func addFile(_ name: String, _ data: Data) throws {
        try add(name, type: 0o100000, mode: 0o644, data: data)
    }

    /// Adds a directory.
    public func addDirectory(_ name: String) throws {
        try add(name, type: 0o040000, mode: 0o755)
    }

    /// Adds a symbolic link (tests use this to build unsafe archives).
    public func addSymlink(_ name: String, target: String) throws {
        try add(name, type: 0o120000, mode: 0o777, symlink: target)
    }

    /// Adds an entry of any file type with no data (tests use this for devices and FIFOs).
    public func addSpecial(_ name: String, type: UInt32) throws {
        try add(name, type: type, mode: 0o644)
    }

    private func add(_ name: String, type: UInt32, mode: UInt32, data: Data = Data(), symlink: String? = nil) throws {
        // libarchive converts names from the locale's charset: the UTF-8 one, whatever the process's.
        try ArchiveLocale.utf8 { try write(name, type: type, mode: mode, data: data, symlink: symlink) }
    }

    private func write(_ name: String, type: UInt32, mode: UInt32, data: Data, symlink: String?) throws {
        guard let entry = archive_entry_new() else { throw ArchiveError.io("cannot allocate an archive entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, type)
        archive_entry_set_perm(entry, mode)
        archive_entry_set_size(entry, Int64(data.count))
        archive_entry_set_mtime(entry, Self.fixedTime, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        if let symlink { archive_entry_set_symlink(entry, symlink) }
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            throw ArchiveError.io("cannot add `\(name)` to \(path): \(ArchiveReader.message(archive))")
        }
        guard !data.isEmpty else { return }
        let written = data.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        guard written == data.count else {
            throw ArchiveError.io("cannot write `\(name)` to \(path): \(ArchiveReader.message(archive))")
        }
    }

    /// Writes the archive's end and closes the file.
    public func finish() throws {
        finished = true
        let closed = ArchiveLocale.utf8 { archive_write_close(archive) }
        let message = ArchiveReader.message(archive)
        archive_write_free(archive)
        guard closed == ARCHIVE_OK else { throw ArchiveError.io("cannot finish \(path): \(message)") }
    }
}
