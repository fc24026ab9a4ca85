import PipeRecipe

/// The `with:` options a built-in kind accepts: names, types, ranges and defaults. Checking a stage's
/// `with` against it reports unknown keys (with a suggestion) and bad values at their file:line:column,
/// and yields the options with every default filled in, which is what enters the cache key.
public struct OptionSchema: Sendable {
    public indirect enum OptionType: Sendable {
        case int(ClosedRange<Int>)
        /// Integers are accepted and stored as numbers.
        case number(ClosedRange<Double>)
        case bool
        /// Text, optionally one of `choices`.
        case text([String]?)
        /// A list of texts, each optionally one of `choices`.
        case textList([String]?)
        /// A list of numbers, each in the range (a single number stands for a list of one).
        case numberList(ClosedRange<Double>)
        /// A local file or directory, relative to the recipe; its content digest, not its path, enters the key.
        case path
        /// A nested group of options.
        case group(OptionSchema)
        /// One of named variants: a bare name for a variant without a value (`mean_radius`), or a
        /// mapping of one name to its value (`certified_accuracy_at: 0.25`). Resolved as a one-entry
        /// mapping (a variant without a value maps to true).
        case oneOf([Variant])
    }

    /// A variant of a `oneOf` option: its name and the type of its value (nil: it takes none).
    public struct Variant: Sendable {
        public var name: String
        public var type: OptionType?
        public init(_ name: String, _ type: OptionType?) {
            self.name = name
            self.type = type
        }
    }

    public struct Option: Sendable {
        public var name: String
        public var type: OptionType
        /// nil: required.
        public var defaultValue: Value?
        public var help: String

        public init(_ name: String, _ type: OptionType, default defaultValue: Value?, help: String) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.help = help
        }
    }

    public var options: [Option]

    public init(_ options: [Option]) { self.options = options }

    /// Checks `node` (a mapping) and returns the options in declared order, defaults filled in.
    public func resolve(_ node: Node, path: String) throws -> Value {
        let entries = node.entries ?? []
        let names = options.map(\.name)
        for entry in entries where !names.contains(entry.key) {
            throw RecipeError(entry.keyLocation, path: "\(path).\(entry.key)", "unknown option `\(entry.key)`",
                              hint: Suggestions.hint(for: entry.key, in: names))
        }
        var resolved: [(String, Value)] = []
        for option in options {
            let here = "\(path).\(option.name)"
            if let given = node[option.name] {
                resolved.append((option.name, try Self.check(given, as: option.type, path: here)))
            } else if case .group(let inner) = option.type {
                resolved.append((option.name, try inner.resolve(Node(.map([]), at: node.location), path: here)))
            } else if let value = option.defaultValue {
                resolved.append((option.name, value))
            } else {
                throw RecipeError(node.location, path: here, "missing required option `\(option.name)`", hint: option.help)
            }
        }
        return .map(resolved)
    }

    private static func check(_ node: Node, as type: OptionType, path: String) throws -> Value {
        func fail(_ expected: String) -> RecipeError {
            RecipeError(node.location, path: path, "expected \(expected), got \(node.typeName) `\(node.value.json)`")
        }
        switch (type, node.content) {
        case (.int(let range), .int(let value)):
            guard range.contains(value) else { throw fail("an integer in \(range.lowerBound)...\(range.upperBound)") }
            return .int(value)
        case (.int(let range), _):
            throw fail("an integer in \(range.lowerBound)...\(range.upperBound)")
        case (.number(let range), .int(let value)) where range.contains(Double(value)):
            return .double(Double(value))
        case (.number(let range), .double(let value)) where range.contains(value):
            return .double(value)
        case (.number(let range), _):
            throw fail("a number in \(range.lowerBound)...\(range.upperBound)")
        case (.bool, .bool(let value)):
            return .bool(value)
        case (.bool, _):
            throw fail("true or false")
        case (.text(let choices), .string(let value, _)):
            if let choices, !choices.contains(value) {
                throw RecipeError(node.location, path: path, "`\(value)` is not one of \(choices.joined(separator: ", "))",
                                  hint: Suggestions.hint(for: value, in: choices))
            }
            return .string(value)
        case (.path, .string(let value, _)) where !value.isEmpty:
            return .string(value)
        case (.text, _), (.path, _):
            throw fail("text")
        case (.textList(let choices), .list(let items)):
            return .list(try items.enumerated().map { index, item in
                try check(item, as: .text(choices), path: "\(path).\(index)")
            })
        case (.textList(let choices), .string):
            // A single value stands for a list of one.
            return .list([try check(node, as: .text(choices), path: path)])
        case (.textList, _):
            throw fail("a list of text")
        case (.numberList(let range), .list(let items)):
            return .list(try items.enumerated().map { index, item in try check(item, as: .number(range), path: "\(path).\(index)") })
        case (.numberList(let range), .int), (.numberList(let range), .double):
            return .list([try check(node, as: .number(range), path: path)])
        case (.numberList(let range), _):
            throw fail("a list of numbers in \(range.lowerBound)...\(range.upperBound)")
        case (.group(let inner), .map):
            return try inner.resolve(node, path: path)
        case (.group, _):
            throw fail("a mapping of options")
        case (.oneOf(let variants), _):
            return try checkVariant(node, variants: variants, path: path)
        }
    }

    private static func checkVariant(_ node: Node, variants: [Variant], path: String) throws -> Value {
        let names = variants.map(\.name)
        let forms = variants.map { $0.type == nil ? $0.name : "{\($0.name): VALUE}" }.joined(separator: " or ")
        func unknown(_ name: String, at location: SourceLocation) -> RecipeError {
            RecipeError(location, path: path, "`\(name)` is not one of \(names.joined(separator: ", "))",
                        hint: Suggestions.hint(for: name, in: names) ?? "write \(forms)")
        }
        switch node.content {
        case .string(let name, _):
            guard let variant = variants.first(where: { $0.name == name }) else { throw unknown(name, at: node.location) }
            guard variant.type == nil else {
                throw RecipeError(node.location, path: path, "`\(name)` needs a value", hint: "write {\(name): VALUE}")
            }
            return .map([(name, .bool(true))])
        case .map(let entries) where entries.count == 1:
            let entry = entries[0]
            guard let variant = variants.first(where: { $0.name == entry.key }) else { throw unknown(entry.key, at: entry.keyLocation) }
            guard let type = variant.type else {
                throw RecipeError(entry.keyLocation, path: "\(path).\(entry.key)", "`\(entry.key)` takes no value", hint: "write \(entry.key)")
            }
            return .map([(entry.key, try check(entry.value, as: type, path: "\(path).\(entry.key)"))])
        default:
            throw RecipeError(node.location, path: path, "expected \(forms), got \(node.typeName) `\(node.value.json)`")
        }
    }

    /// The dotted paths of every `path` option, for the adapter to digest.
    public var pathOptions: [[String]] {
        options.flatMap { option -> [[String]] in
            switch option.type {
            case .path: return [[option.name]]
            case .group(let inner): return inner.pathOptions.map { [option.name] + $0 }
            case .oneOf(let variants):
                return variants.flatMap { variant -> [[String]] in
                    switch variant.type {
                    case .path?: return [[option.name, variant.name]]
                    case .group(let inner)?: return inner.pathOptions.map { [option.name, variant.name] + $0 }
                    default: return []
                    }
                }
            default: return []
            }
        }
    }
}
