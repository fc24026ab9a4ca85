import Foundation

/// The only values a cache key is made of. Every component of a key is converted to this explicitly,
/// and `canonicalBytes` is its one encoding: type-tagged, length-prefixed, map keys sorted.
public indirect enum KeyValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([KeyValue])
    case map([String: KeyValue])

    /// The SHA-256 of the canonical encoding: a stage's cache key.
    public var digest: Digest { Digest.of(canonicalBytes) }

    /// The canonical, unambiguous byte encoding.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    private func encode(into out: inout [UInt8]) {
        func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        func appendString(_ s: String) {
            append(UInt64(s.utf8.count))
            out.append(contentsOf: s.utf8)
        }
        switch self {
        case .null: out.append(0x4e)
        case .bool(let b): out.append(b ? 0x54 : 0x46)
        case .int(let i):
            out.append(0x49)
            append(UInt64(bitPattern: Int64(i)))
        case .double(let d):
            out.append(0x44)
            let canonical = d.isNaN ? Double.nan : (d == 0 ? 0.0 : d)
            append(canonical.bitPattern)
        case .string(let s):
            out.append(0x53)
            appendString(s)
        case .list(let items):
            out.append(0x4c)
            append(UInt64(items.count))
            for item in items { item.encode(into: &out) }
        case .map(let entries):
            out.append(0x4d)
            append(UInt64(entries.count))
            for key in entries.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                appendString(key)
                entries[key]!.encode(into: &out)
            }
        }
    }

    /// The value under `key` in a map.
    public subscript(key: String) -> KeyValue? {
        if case .map(let entries) = self { return entries[key] }
        return nil
    }

    /// How the value reads in messages.
    public var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return "\(d)"
        case .string(let s): return s.count > 60 ? "\"\(s.prefix(57))...\"" : "\"\(s)\""
        case .list(let items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .map(let entries):
            return "{" + entries.keys.sorted().map { "\($0): \(entries[$0]!.text)" }.joined(separator: ", ") + "}"
        }
    }
}

extension KeyValue: Codable {
    // Tagged JSON arrays, so that integers and doubles stay apart: ["i", 3], ["f", 3.0], ["m", {...}].
    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        let tag = try container.decode(String.self)
        switch tag {
        case "n": self = .null
        case "b": self = .bool(try container.decode(Bool.self))
        case "i": self = .int(try container.decode(Int.self))
        case "f": self = .double(try container.decode(Double.self))
        case "s": self = .string(try container.decode(String.self))
        case "l": self = .list(try container.decode([KeyValue].self))
        case "m": self = .map(try container.decode([String: KeyValue].self))
        default:
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown key value tag \(tag)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        switch self {
        case .null: try container.encode("n")
        case .bool(let b): try container.encode("b"); try container.encode(b)
        case .int(let i): try container.encode("i"); try container.encode(i)
        case .double(let d): try container.encode("f"); try container.encode(d)
        case .string(let s): try container.encode("s"); try container.encode(s)
        case .list(let items): try container.encode("l"); try container.encode(items)
        case .map(let entries): try container.encode("m"); try container.encode(entries)
        }
    }
}

/// One difference between the key material of two runs of a stage.
public struct KeyChange: Equatable, Sendable, CustomStringConvertible {
    /// Dotted path into the material: `with.lr`, `inputs.dataset`, `deps.train.py`, `version`.
    public var path: String
    public var old: KeyValue?
    public var new: KeyValue?

    public init(path: String, old: KeyValue?, new: KeyValue?) {
        self.path = path
        self.old = old
        self.new = new
    }

    /// Why-stale text in the words of the material's conventions: `inputs.*` are upstream artifacts,
    /// `deps.*` local files, `version` the kind's implementation version, anything else a setting.
    public var description: String {
        let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
        let head = parts[0], rest = parts.count > 1 ? parts[1] : ""
        switch (head, old, new) {
        case ("inputs", nil, _): return "input `\(rest)` added"
        case ("inputs", _, nil): return "input `\(rest)` removed"
        case ("inputs", _, _): return "input `\(rest)` rebuilt"
        case ("deps", nil, _): return "file `\(rest)` added to deps"
        case ("deps", _, nil): return "file `\(rest)` removed from deps"
        case ("deps", _, _): return "file `\(rest)` modified"
        case ("version", let old?, let new?): return "kind version changed \(old.text) -> \(new.text)"
        case (_, nil, let new?): return "`\(path)` added (\(new.text))"
        case (_, let old?, nil): return "`\(path)` removed (was \(old.text))"
        case (_, .string(let a)?, .string(let b)?): return "`\(path)` changed " + KeyChange.excerpts(a, b)
        case (_, let old?, let new?): return "`\(path)` changed \(old.text) -> \(new.text)"
        default: return "`\(path)` changed"
        }
    }

    /// Two texts around their first difference, newlines escaped: `"...-lt 200 ]..." -> "...-lt 100 ]..."`.
    static func excerpts(_ a: String, _ b: String) -> String {
        if a.count <= 60, b.count <= 60, !a.contains("\n"), !b.contains("\n") { return "\"\(a)\" -> \"\(b)\"" }
        let x = Array(a), y = Array(b)
        var start = 0
        while start < x.count, start < y.count, x[start] == y[start] { start += 1 }
        var end = 0  // common suffix length, not overlapping the common prefix
        while end < x.count - start, end < y.count - start, x[x.count - 1 - end] == y[y.count - 1 - end] { end += 1 }
        func excerpt(_ chars: [Character]) -> String {
            let from = max(0, start - 20), to = min(chars.count, max(chars.count - end + 20, start + 20))
            var text = String(chars[from..<to]).replacingOccurrences(of: "\n", with: "\\n")
            if text.count > 80 { text = String(text.prefix(77)) + "..." }
            return "\"" + (from > 0 ? "..." : "") + text + (to < chars.count ? "..." : "") + "\""
        }
        return excerpt(x) + " -> " + excerpt(y)
    }

    /// The differences from `old` to `new`, descending into maps; lists and scalars compare whole.
    public static func diff(_ old: KeyValue, _ new: KeyValue, path: String = "") -> [KeyChange] {
        guard old != new else { return [] }
        if case .map(let a) = old, case .map(let b) = new {
            var changes: [KeyChange] = []
            for key in Set(a.keys).union(b.keys).sorted() {
                let sub = path.isEmpty ? key : "\(path).\(key)"
                switch (a[key], b[key]) {
                case let (x?, y?):
                    // An input or a dependency is one entry, whatever its value's shape.
                    if path == "inputs" || path == "deps" {
                        if x != y { changes.append(KeyChange(path: sub, old: x, new: y)) }
                    } else {
                        changes += diff(x, y, path: sub)
                    }
                case let (x, y): changes.append(KeyChange(path: sub, old: x, new: y))
                }
            }
            return changes
        }
        return [KeyChange(path: path, old: old, new: new)]
    }
}
