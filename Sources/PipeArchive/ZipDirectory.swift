import Foundation

/// A zip's central directory, checked from the file's end. libarchive reads a zip whose central
/// directory is missing (a cut-off download) from its local headers without a word; this says so.
enum ZipDirectory {
    /// Nil when `path` is not a zip or its end-of-central-directory record points at a central
    /// directory inside the file; otherwise what is wrong, as a phrase ("its central directory is missing").
    static func problem(at path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4), head == Data([0x50, 0x4b, 0x03, 0x04]),
              let size = try? handle.seekToEnd() else { return nil }
        // The end record (22 bytes) is followed by a comment of at most 65,535 bytes.
        let tailStart = size > 65_557 ? size - 65_557 : 0
        guard (try? handle.seek(toOffset: tailStart)) != nil, let tail = try? handle.readToEnd() else { return nil }
        let bytes = [UInt8](tail)
        guard bytes.count >= 22,
              let end = stride(from: bytes.count - 22, through: 0, by: -1).first(where: {
                  bytes[$0] == 0x50 && bytes[$0 + 1] == 0x4b && bytes[$0 + 2] == 0x05 && bytes[$0 + 3] == 0x06
              }) else {
            return "its central directory is missing (the file is cut off?)"
        }
        func field(_ offset: Int) -> UInt64 {
            (0..<4).reduce(UInt64(0)) { $0 | UInt64(bytes[end + offset + $1]) << (8 * $1) }
        }
        let directorySize = field(12), directoryOffset = field(16)
        // Zip64 keeps the real values in its own record; the 32-bit fields are then all ones.
        guard directoryOffset != 0xffff_ffff, directorySize != 0xffff_ffff else { return nil }
        let endOffset = tailStart + UInt64(end)
        guard directoryOffset + directorySize <= endOffset else {
            return "its central directory is cut off (it should span bytes \(directoryOffset)-\(directoryOffset + directorySize) of \(size))"
        }
        guard directorySize > 0 else { return nil }
        guard (try? handle.seek(toOffset: directoryOffset)) != nil, let signature = try? handle.read(upToCount: 4),
              signature == Data([0x50, 0x4b, 0x01, 0x02]) else {
            return "its central directory is damaged (no directory entry at byte \(directoryOffset))"
        }
        return nil
    }
}
