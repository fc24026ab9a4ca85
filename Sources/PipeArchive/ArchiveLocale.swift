import Foundation

/// libarchive converts entry names between the archive's charset and the current locale's, and under
/// C or POSIX (a batch job's usual locale) a non-ASCII name cannot be converted. Archive calls run
/// with the calling thread's character type set to C.UTF-8, whatever the process's locale, so names
/// pass through as the UTF-8 they are stored as (zip's UTF-8 flag, pax headers).
enum ArchiveLocale {
    nonisolated(unsafe) private static let utf8: locale_t? = {
        for name in ["C.UTF-8", "C.utf8", "en_US.UTF-8"] {
            if let locale = newlocale(LC_CTYPE_MASK, name, nil) { return locale }
        }
        return nil
    }()

    /// Runs `body` with this thread's LC_CTYPE set to UTF-8, then restores the thread's locale.
    static func utf8<T>(_ body: () throws -> T) rethrows -> T {
        guard let utf8 else { return try body() }
        let previous = uselocale(utf8)
        defer { uselocale(previous) }
        return try body()
    }
}
