import Foundation

/// The differences between two artifact trees, file by file, with the numeric deltas of JSON files
/// (metrics) that differ.
public struct TreeDiff: Sendable, Equatable {
    /// A file whose bytes differ, or that only one side has.
    public struct File: Sendable, Equatable {
        public var path: String
        public var old: Digest?
        public var new: Digest?
    }

    /// A number in a JSON file that changed: `metrics.json: clean.accuracy 0.52 -> 0.51`.
    public struct Delta: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var path: String
        public var old: Double?
        public var new: Double?

        public var description: String {
            func text(_ value: Double?) -> String { value.map { String(format: "%.6g", $0) } ?? "absent" }
            return "\(file): \(path) \(text(old)) -> \(text(new))"
        }
    }

    public var files: Int
    public var differing: [File]
    /// Differing files that hold wall-clock measurements, not compared (`timing.csv`).
    public var volatile: [String]
    public var deltas: [Delta]

    public var identical: Bool { differing.isEmpty }

    /// Files named so hold times and rates, which no two executions share.
    public static let volatileNames: Set<String> = ["timing.csv"]

    /// Compares the tree `old` in `oldStore` with `new` in `newStore`.
    public static func compare(_ old: Digest, in oldStore: ContentStore, with new: Digest, in newStore: ContentStore) throws -> TreeDiff {
        let a = Dictionary(try Tree.walk(old, in: oldStore).files.map { ($0.path, $0.entry.digest) }, uniquingKeysWith: { x, _ in x })
        let b = Dictionary(try Tree.walk(new, in: newStore).files.map { ($0.path, $0.entry.digest) }, uniquingKeysWith: { x, _ in x })
        var diff = TreeDiff(files: Set(a.keys).union(b.keys).count, differing: [], volatile: [], deltas: [])
        for path in Set(a.keys).union(b.keys).sorted() where a[path] != b[path] {
            if volatileNames.contains((path as NSString).lastPathComponent) && a[path] != nil && b[path] != nil {
                diff.volatile.append(path)
                continue
            }
            diff.differing.append(File(path: path, old: a[path], new: b[path]))
            if path.hasSuffix(".json"), let x = a[path], let y = b[path],
               let oldJSON = try? JSONSerialization.jsonObject(with: oldStore.read(x)), let newJSON = try? JSONSerialization.jsonObject(with: newStore.read(y)) {
                let oldNumbers = numbers(in: oldJSON), newNumbers = numbers(in: newJSON)
                for key in Set(oldNumbers.keys).union(newNumbers.keys).sorted() where oldNumbers[key] != newNumbers[key] {
                    diff.deltas.append(Delta(file: path, path: key, old: oldNumbers[key], new: newNumbers[key]))
                }
            }
        }
        return diff
    }

    /// Every number in a JSON value by its dotted path (`clean.byModality.CT`, `attacks.0.accuracy`).
    static func numbers(in json: Any, prefix: String = "") -> [String: Double] {
        var out: [String: Double] = [:]
        func join(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }
        if let map = json as? [String: Any] {
            for (key, value) in map { out.merge(numbers(in: value, prefix: join(key))) { x, _ in x } }
        } else if let list = json as? [Any] {
            for (i, value) in list.enumerated() { out.merge(numbers(in: value, prefix: join(String(i)))) { x, _ in x } }
        } else if let number = json as? NSNumber {
            out[prefix] = number.doubleValue
        }
        return out
    }
}
