/// A YAML value with the place it was written, as recipes are read and resolved.
public struct Node: Equatable, Sendable {
    /// A mapping entry; keys are strings in recipes.
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var keyLocation: SourceLocation
        public var value: Node

        public init(key: String, keyLocation: SourceLocation, value: Node) {
            self.key = key
            self.keyLocation = keyLocation
            self.value = value
        }
    }

    public indirect enum Content: Equatable, Sendable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        /// `quoted` is true for a quoted scalar, which is never resolved to another type.
        case string(String, quoted: Bool)
        case list([Node])
        case map([Entry])
    }

    public var content: Content
    public var location: SourceLocation

    public init(_ content: Content, at location: SourceLocation) {
        self.content = content
        self.location = location
    }

    /// The entries of a mapping, or nil.
    public var entries: [Entry]? {
        if case .map(let entries) = content { return entries }
        return nil
    }

    /// The value under `key` in a mapping.
    public subscript(key: String) -> Node? {
        entries?.first { $0.key == key }?.value
    }

    /// The string of a string scalar.
    public var string: String? {
        if case .string(let text, _) = content { return text }
        return nil
    }

    /// The value without source positions.
    public var value: Value {
        switch content {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s, _): return .string(s)
        case .list(let items): return .list(items.map(\.value))
        case .map(let entries): return .map(entries.map { ($0.key, $0.value.value) })
        }
    }

    /// A short name of the node's type for messages: "a number", "a list", ...
    public var typeName: String {
        switch content {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .list: return "a list"
        case .map: return "a mapping"
        }
    }
}

/// A plain value tree (no positions): what enters cache keys and stage parameters.
public indirect enum Value: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case map([(String, Value)])

    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern
        case let (.string(a), .string(b)): return a == b
        case let (.list(a), .list(b)): return a == b
        case let (.map(a), .map(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` in a mapping.
    public subscript(key: String) -> Value? {
        if case .map(let entries) = self { return entries.first { $0.0 == key }?.1 }
        return nil
    }

    /// Compact JSON text (keys in their written order).
    public var json: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Value.render(d)
        case .string(let s): return Value.quote(s)
        case .list(let items): return "[" + items.map(\.json).joined(separator: ",") + "]"
        case .map(let entries): return "{" + entries.map { Value.quote($0.0) + ":" + $0.1.json }.joined(separator: ",") + "}"
        }
    }

    /// The value as it reads in text: strings bare, everything else as JSON.
    public var description: String {
        if case .string(let s) = self { return s }
        return json
    }

    /// A double as the shortest text that reads back to it (`1e-04` is `0.0001`); non-finite as YAML spells it.
    static func render(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        return "\(d)"
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
