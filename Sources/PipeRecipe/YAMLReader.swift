import Yams

/// Reads YAML text into `Node`s with positions, resolving plain scalars by the YAML 1.2 core schema
/// (`yes`/`no` stay strings) and refusing duplicate keys.
public enum YAMLReader {
    /// Parses one YAML document. An empty document is a null node.
    public static func read(_ text: String, file: String) throws -> Node {
        let root: Yams.Node?
        do {
            // An empty resolver: scalars are resolved below, quickly and by the 1.2 core schema.
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw translate(error, file: file)
        }
        guard let root else { return Node(.null, at: SourceLocation(file: file, line: 1, column: 1)) }
        return try convert(root, file: file)
    }

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private static func convert(_ node: Yams.Node, file: String) throws -> Node {
        let here = location(node.mark, file)
        switch node {
        case .scalar(let scalar):
            let explicitTag = scalar.tag.rawValue
            if scalar.style != .plain || explicitTag == Tag.Name.str.rawValue {
                return Node(.string(scalar.string, quoted: true), at: here)
            }
            return Node(resolve(plain: scalar.string), at: here)
        case .sequence(let sequence):
            return Node(.list(try sequence.map { try convert($0, file: file) }), at: here)
        case .mapping(let mapping):
            var entries: [Node.Entry] = []
            for (key, value) in mapping {
                let keyLocation = location(key.mark, file)
                guard case .scalar(let keyScalar) = key else {
                    throw RecipeError(keyLocation, path: "", "mapping keys must be plain text, not \(key)")
                }
                entries.append(Node.Entry(key: keyScalar.string, keyLocation: keyLocation, value: try convert(value, file: file)))
            }
            return Node(.map(entries), at: here)
        case .alias(let alias):
            throw RecipeError(here, path: "", "unresolved alias `\(alias)`")
        }
    }

    /// Resolves a plain scalar by the YAML 1.2 core schema.
    public static func resolve(plain text: String) -> Node.Content {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
                || first == UInt8(ascii: ".") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            return .string(text, quoted: false)
        }
        if isDecimalInteger(text), let value = Int(text.hasPrefix("+") ? String(text.dropFirst()) : text) {
            return .int(value)
        }
        if text.hasPrefix("0x"), let value = Int(text.dropFirst(2), radix: 16) { return .int(value) }
        if text.hasPrefix("0o"), let value = Int(text.dropFirst(2), radix: 8) { return .int(value) }
        if isFloat(text), let value = Double(text) { return .double(value) }
        return .string(text, quoted: false)
    }

    private static func isDecimalInteger(_ text: String) -> Bool {
        var digits = text.utf8[...]
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloat(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            return i - start
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        var mantissa = digits()
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            mantissa += digits()
        }
        guard mantissa > 0 else { return false }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == bytes.count
    }

    private static func translate(_ error: YamlError, file: String) -> RecipeError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return RecipeError(location(mark, file), path: "", message,
                               hint: "check indentation and quoting; in a flow mapping {...} quote values that contain `:` or `${`")
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams names the first occurrence; point at the repetition, which is what to fix.
            let name = duplicates.first ?? "?"
            let first = context.mark
            let lines = context.text.split(separator: "\n", omittingEmptySubsequences: false)
            var again = location(first, file)
            for (index, line) in lines.enumerated() where index >= first.line {
                let indent = line.prefix { $0 == " " }.count
                if indent == first.column - 1, line.dropFirst(indent).hasPrefix(name + ":") {
                    again = SourceLocation(file: file, line: index + 1, column: first.column)
                    break
                }
            }
            return RecipeError(again, path: "", "duplicate key `\(name)` (first defined at line \(first.line))",
                               hint: "remove or rename one of the two")
        case let .reader(problem, offset, _, _):
            return RecipeError(SourceLocation(file: file, line: 1, column: 1), path: "",
                               "unreadable YAML: \(problem)" + (offset.map { " at byte \($0)" } ?? ""),
                               hint: "save the file as UTF-8")
        default:
            return RecipeError(SourceLocation(file: file, line: 1, column: 1), path: "", "invalid YAML: \(error)")
        }
    }
}
