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

extension Value {
    /// The value at a path of map keys.
    func lookup(_ path: [String]) -> Value? {
        guard let first = path.first else { return self }
        return self[first]?.lookup(Array(path.dropFirst()))
    }

    /// A copy with the value at a path of map keys replaced.
    func replacing(_ path: [String], with replacement: Value) -> Value {
        guard let first = path.first else { return replacement }
        guard case .map(let entries) = self else { return self }
        return .map(entries.map { key, value in
            (key, key == first ? value.replacing(Array(path.dropFirst()), with: replacement) : value)
        })
    }
}

extension Node {
    /// The node at a path of map keys.
    func lookup(_ path: [String]) -> Node? {
        guard let first = path.first else { return self }
        return self[first]?.lookup(Array(path.dropFirst()))
    }
}
