/// Entry paths as they may be written to disk: relative, normalized, never leaving the destination.
enum ArchivePath {
    /// `a/./b//c/` -> `a/b/c`; nil for an absolute path, a `..` component, a NUL or an empty path.
    static func normalize(_ raw: String) -> String? {
        guard !raw.hasPrefix("/"), !raw.hasPrefix("\\"), !raw.contains("\0") else { return nil }
        if raw.count >= 2, raw.dropFirst().first == ":" { return nil }  // C:\...
        var parts: [Substring] = []
        for part in raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }) {
            if part == "." { continue }
            if part == ".." { return nil }
            parts.append(part)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// Whether a symbolic link at `entry` pointing to `target` stays inside the destination.
    static func linkStaysInside(entry: String, target: String) -> Bool {
        guard !target.hasPrefix("/"), !target.isEmpty else { return false }
        var depth = entry.split(separator: "/").count - 1
        for part in target.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                depth -= 1
                if depth < 0 { return false }
            } else {
                depth += 1
            }
        }
        return true
    }
}
