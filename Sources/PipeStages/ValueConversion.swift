import PipeEngine
import PipeRecipe

extension KeyValue {
    /// The explicit conversion from recipe values to key values.
    public init(_ value: Value) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .list(let items): self = .list(items.map(KeyValue.init))
        case .map(let entries):
            var table: [String: KeyValue] = [:]
            for (key, item) in entries { table[key] = KeyValue(item) }
            self = .map(table)
        }
    }
}
