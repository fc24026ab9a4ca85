import Yams

/// Reads YAML text into `Node`s with positions, resolving plain scalars by the YAML 1.2 core schema
/// (`yes`/`no` stay strings) and refusing duplicate keys.
///
/// A document holds at most `RecipeLimits.maxValues` values once its aliases are expanded, nested at
/// most `RecipeLimits.maxDepth` levels: an alias bomb or a deep nest is refused, not expanded.
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
        var converter = Converter(file: file)
        return try converter.convert(root, depth: 1)
    }

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Yams nodes to `Node`s, counting values (an alias counts as often as it is used) and depth.
    private struct Converter {
        let file: String
        var values = 0
        /// The furthest place in the text the walk has reached (an alias's nodes carry their anchor's place).
        var furthest: SourceLocation

        init(file: String) {
            self.file = file
            furthest = SourceLocation(file: file, line: 1, column: 1)
        }

        mutating func convert(_ node: Yams.Node, depth: Int) throws -> Node {
            let here = YAMLReader.location(node.mark, file)
            if (here.line, here.column) > (furthest.line, furthest.column) { furthest = here }
            values += 1
            guard values <= RecipeLimits.maxValues else {
                throw RecipeError(furthest, path: "", "more than \(RecipeLimits.maxValues) values (counting each use of an alias `*name` in full)",
                                  hint: "a recipe is small; use fewer aliases (`*name`) or fewer nested ones")
            }
            guard depth <= RecipeLimits.maxDepth else { throw RecipeLimits.tooDeep(here) }
            switch node {
            case .scalar(let scalar):
                let explicitTag = scalar.tag.rawValue
                if scalar.style != .plain || explicitTag == Tag.Name.str.rawValue {
                    return Node(.string(scalar.string, quoted: true), at: here)
                }
                return Node(YAMLReader.resolve(plain: scalar.string), at: here)
            case .sequence(let sequence):
                var items: [Node] = []
                items.reserveCapacity(sequence.count)
                for item in sequence { items.append(try convert(item, depth: depth + 1)) }
                return Node(.list(items), at: here)
            case .mapping(let mapping):
                var entries: [Node.Entry] = []
                for (key, value) in mapping {
                    let keyLocation = YAMLReader.location(key.mark, file)
                    guard case .scalar(let keyScalar) = key else {
                        throw RecipeError(keyLocation, path: "", "mapping keys must be plain text, not \(key)")
                    }
                    entries.append(Node.Entry(key: keyScalar.string, keyLocation: keyLocation, value: try convert(value, depth: depth + 1)))
                }
                return Node(.map(entries), at: here)
            case .alias(let alias):
                throw RecipeError(here, path: "", "unresolved alias `\(alias)`")
            }
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
        case let .parser(_, problem, mark, _) where problem.hasPrefix("Maximum nesting level reached"):
            // libyaml's own limit (1000 levels): the same message as ours.
            return RecipeLimits.tooDeep(location(mark, file))
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
