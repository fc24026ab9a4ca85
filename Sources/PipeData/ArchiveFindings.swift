import Foundation

/// What an unpack notices about an archive beyond its entries: damage libarchive reads through (a
/// zip without its central directory), a path that appears twice, a QA file that repeats another.
/// Each is a warning (the first copy is used) or, under `strict`, an error.
struct ArchiveFindings {
    let archive: String
    let strict: Bool
    /// One line each, naming the archive.
    private(set) var warnings: [String] = []
    private var duplicates: [String] = []
    private var duplicateCount = 0
    private var qaFiles: [QAFingerprint: String] = [:]

    /// A QA file's size and hash: equal for two copies of one file.
    private struct QAFingerprint: Hashable {
        var size: Int
        var hash: Int
    }

    init(archive: String, strict: Bool) {
        self.archive = archive
        self.strict = strict
    }

    private var refusal: String { "refused under `strict: true` (set strict: false to read it anyway)" }

    /// The reader's damage report, if any.
    mutating func damaged(_ damage: String?) throws {
        guard let damage else { return }
        if strict { throw DatasetError("\(archive): \(damage); \(refusal)") }
        warnings.append("\(archive): \(damage); its entries were read from their local headers")
    }

    /// A file entry whose path an earlier entry already had; the first copy is used.
    mutating func duplicate(_ path: String) throws {
        if strict { throw DatasetError("\(archive): `\(path)` appears more than once in the archive; \(refusal)") }
        duplicateCount += 1
        if duplicates.count < 5 { duplicates.append(path) }
    }

    /// Whether the QA file `data` at `path` repeats an earlier one (the same bytes), which is then reported.
    mutating func repeatsQAFile(_ path: String, _ data: Data) throws -> Bool {
        var hasher = Hasher()
        data.withUnsafeBytes { hasher.combine(bytes: $0) }
        let fingerprint = QAFingerprint(size: data.count, hash: hasher.finalize())
        guard let first = qaFiles[fingerprint] else {
            qaFiles[fingerprint] = path
            return false
        }
        if strict { throw DatasetError("\(archive): QA file `\(path)` is a copy of `\(first)`; \(refusal)") }
        warnings.append("\(archive): QA file `\(path)` is a copy of `\(first)`; its records were read once")
        return true
    }

    /// The warnings, with one line for all the duplicate paths.
    mutating func finish() -> [String] {
        if duplicateCount > 0 {
            let examples = duplicates.map { "`\($0)`" }.joined(separator: ", ") + (duplicateCount > duplicates.count ? ", ..." : "")
            warnings.append("\(archive): \(duplicateCount) \(duplicateCount == 1 ? "entry repeats a path" : "entries repeat a path") "
                            + "of an earlier one (\(examples)); the first copy of each is used")
            duplicateCount = 0
        }
        return warnings
    }
}
