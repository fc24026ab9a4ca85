import PipeRecipe

/// A Swift type an option's value can have: how it enters the resolved options (and so the cache
/// key) and how it is read back from them.
public protocol OptionValue: Sendable {
    /// The value as it is resolved and keyed.
    var optionValue: Value { get }
    /// The value read back from a resolved option; nil when `value` is not of this type.
    init?(optionValue value: Value)
    /// The value with the place it was read from (for a group, whose own options are read next).
    func located(at location: SourceLocation, path: String) -> Self
}

extension OptionValue {
    public func located(at location: SourceLocation, path: String) -> Self { self }
}

extension Int: OptionValue {
    public var optionValue: Value { .int(self) }
    public init?(optionValue value: Value) {
        guard case .int(let i) = value else { return nil }
        self = i
    }
}

extension Double: OptionValue {
    public var optionValue: Value { .double(self) }
    public init?(optionValue value: Value) {
        guard case .double(let d) = value else { return nil }
        self = d
    }
}

extension Bool: OptionValue {
    public var optionValue: Value { .bool(self) }
    public init?(optionValue value: Value) {
        guard case .bool(let b) = value else { return nil }
        self = b
    }
}

extension String: OptionValue {
    public var optionValue: Value { .string(self) }
    public init?(optionValue value: Value) {
        guard case .string(let s) = value else { return nil }
        self = s
    }
}

extension Array: OptionValue where Element: OptionValue {
    public var optionValue: Value { .list(map(\.optionValue)) }
    public init?(optionValue value: Value) {
        guard case .list(let items) = value else { return nil }
        var elements: [Element] = []
        for item in items {
            guard let element = Element(optionValue: item) else { return nil }
            elements.append(element)
        }
        self = elements
    }
}

/// An option without a value of its own is `null` (its help says what stands in for it).
extension Optional: OptionValue where Wrapped: OptionValue {
    public var optionValue: Value { map(\.optionValue) ?? .null }
    public init?(optionValue value: Value) {
        if case .null = value {
            self = .none
            return
        }
        guard let wrapped = Wrapped(optionValue: value) else { return nil }
        self = .some(wrapped)
    }
}

/// A `oneOf` option is read as its resolved one-entry mapping.
extension Value: OptionValue {
    public var optionValue: Value { self }
    public init?(optionValue value: Value) { self = value }
}

/// An enumeration written in recipes as one of its raw values.
public protocol OptionChoice: OptionValue, RawRepresentable where RawValue == String {
    /// The values a recipe may write, in the order the help lists them.
    static var optionChoices: [Self] { get }
}

extension OptionChoice {
    public var optionValue: Value { .string(rawValue) }
    public init?(optionValue value: Value) {
        guard case .string(let text) = value else { return nil }
        self.init(rawValue: text)
    }
}

extension OptionChoice where Self: CaseIterable {
    public static var optionChoices: [Self] { Array(allCases) }
}

/// Anything that declares one option of a schema.
public protocol OptionDeclaration: Sendable {
    var declaration: OptionSchema.Option { get }
}

extension OptionSchema.Option: OptionDeclaration {
    public var declaration: OptionSchema.Option { self }
}

extension OptionSchema {
    /// A schema of declared options, in the order given.
    public init(keys: [any OptionDeclaration]) {
        self.init(keys.map(\.declaration))
    }
}

/// One option of a built-in kind, declared once: name, type, range, default and help. The kind's
/// schema is made of its keys, and its action reads each resolved value back, typed, through the
/// same key, so a name is written in one place and a read cannot fall back to a second default.
public struct OptionKey<T: OptionValue>: OptionDeclaration {
    public let declaration: OptionSchema.Option
    public var name: String { declaration.name }

    /// The declared default, typed (a group has none: its options have theirs).
    public var defaultValue: T? { declaration.defaultValue.flatMap(T.init(optionValue:)) }

    /// `default`: nil for a required option.
    init(_ name: String, _ type: OptionSchema.OptionType, default value: T?, help: String) {
        declaration = OptionSchema.Option(name, type, default: value?.optionValue, help: help)
    }
}

extension OptionKey where T == Int {
    init(_ name: String, _ range: ClosedRange<Int>, default value: Int, help: String) {
        self.init(name, .int(range), default: value, help: help)
    }
}

extension OptionKey where T == Int? {
    /// An integer that is `null` unless given.
    init(_ name: String, _ range: ClosedRange<Int>, help: String) {
        self.init(name, .int(range), default: .some(nil), help: help)
    }
}

extension OptionKey where T == Double {
    init(_ name: String, _ range: ClosedRange<Double>, default value: Double, help: String) {
        self.init(name, .number(range), default: value, help: help)
    }
}

extension OptionKey where T == Double? {
    /// A number that is `null` unless given.
    init(_ name: String, _ range: ClosedRange<Double>, help: String) {
        self.init(name, .number(range), default: .some(nil), help: help)
    }
}

extension OptionKey where T == Bool {
    init(_ name: String, default value: Bool, help: String) {
        self.init(name, .bool, default: value, help: help)
    }
}

extension OptionKey where T == String {
    /// Text, one of `choices` when given.
    init(_ name: String, choices: [String]? = nil, default value: String, help: String) {
        self.init(name, .text(choices), default: value, help: help)
    }
}

extension OptionKey where T == String? {
    /// A local file or directory relative to the recipe (its content digest enters the key); `null` unless given.
    static func path(_ name: String, help: String) -> OptionKey {
        OptionKey(name, .path, default: .some(nil), help: help)
    }
}

extension OptionKey where T: OptionChoice {
    init(_ name: String, default value: T, help: String) {
        self.init(name, .text(T.optionChoices.map(\.rawValue)), default: value, help: help)
    }
}

extension OptionKey where T == [String] {
    /// A list of texts, each one of `choices` when given (a single text stands for a list of one).
    init(_ name: String, choices: [String]?, default value: [String] = [], help: String) {
        self.init(name, .textList(choices), default: value, help: help)
    }
}

extension OptionKey {
    /// A list of choices (a single one stands for a list of one).
    init<Choice: OptionChoice>(_ name: String, default value: [Choice], help: String) where T == [Choice] {
        self.init(name, .textList(Choice.optionChoices.map(\.rawValue)), default: value, help: help)
    }
}

extension OptionKey where T == [Double] {
    /// A list of numbers in `range` (a single number stands for a list of one).
    init(_ name: String, _ range: ClosedRange<Double>, default value: [Double], help: String) {
        self.init(name, .numberList(range), default: value, help: help)
    }
}

extension OptionKey where T == OptionValues {
    /// A group of options; it resolves with each of its defaults filled in.
    init(_ name: String, group keys: [any OptionDeclaration], help: String) {
        declaration = OptionSchema.Option(name, .group(OptionSchema(keys: keys)), default: nil, help: help)
    }
}

extension OptionKey where T == Value {
    /// One of named variants, read as its one-entry mapping.
    init(_ name: String, oneOf variants: [OptionSchema.Variant], default value: Value, help: String) {
        self.init(name, .oneOf(variants), default: value, help: help)
    }
}

/// A stage's checked options (or a group of them), read through the keys that declared them.
public struct OptionValues: OptionValue {
    /// The resolved mapping, every default filled in.
    public let value: Value
    /// Where the options are written (`stages.NAME.with`), for the message of a bad read.
    let path: String
    let location: SourceLocation

    public init(_ value: Value, location: SourceLocation, path: String) {
        self.value = value
        self.location = location
        self.path = path
    }

    public var optionValue: Value { value }

    public init?(optionValue value: Value) {
        guard case .map = value else { return nil }
        self.init(value, location: SourceLocation(file: "", line: 0, column: 0), path: "")
    }

    public func located(at location: SourceLocation, path: String) -> OptionValues {
        OptionValues(value, location: location, path: path)
    }

    /// The option's resolved value. Resolution fills in every declared option, so a key the schema
    /// does not hold (or a value of another type) is a bug in the kind: it throws, it never falls back.
    public subscript<T>(_ key: OptionKey<T>) -> T {
        get throws {
            let path = "\(self.path).\(key.name)"
            guard let raw = value[key.name], let read = T(optionValue: raw) else {
                throw RecipeError(location, path: path,
                                  "internal error: option `\(key.name)` is read but \(value[key.name].map { "resolved as `\($0.json)`" } ?? "not declared")",
                                  hint: "this is a bug in pipe's kind declarations; please report it")
            }
            return read.located(at: location, path: path)
        }
    }
}
