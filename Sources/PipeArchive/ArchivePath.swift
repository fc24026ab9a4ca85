/// Entry paths as they may be written to disk: relative, normalized, never leaving the destination.
public enum ArchivePath {
    /// `a/./b//c/` -> `a/b/c`; nil for an absolute path, a `..` component, a NUL or an empty path.
    public static func normalize(_ raw: String) -> String? {
        if isNormal(raw) { return raw }
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

    /// Whether `raw` is already normal (the common case, checked on bytes): non-empty `/`-separated
    /// segments, none `.` or `..`, no NUL or backslash, no drive letter.
    static func isNormal(_ raw: String) -> Bool {
        var raw = raw
        return raw.withUTF8(isNormal)
    }

    private static func isNormal(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        var segment = 0
        var dots = 0
        for (i, byte) in bytes.enumerated() {
            switch byte {
            case 0, UInt8(ascii: "\\"): return false
            case UInt8(ascii: ":") where i == 1: return false
            case UInt8(ascii: "/"):
                if segment == 0 || segment == dots && dots <= 2 { return false }
                segment = 0
                dots = 0
            case UInt8(ascii: "."):
                segment += 1
                dots += 1
            default:
                segment += 1
            }
        }
        return segment > 0 && !(segment == dots && dots <= 2)
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
