import Foundation
import PipeData

/// Reads a metric out of a stage's metrics JSON: `path` is dotted keys (`clean.accuracy`), with
/// `@key` indexing a map or `@n` a list (`certified_accuracy@0.25`). A first key that is not at the
/// top level is looked for breadth-first (keys in sorted order), so `accuracy` finds
/// `clean.accuracy` and `certified_accuracy` finds `smoothing.certified.certified_accuracy`.
public enum MetricLookup {
    public static func value(in json: Any, path: String) -> Double? {
        let (keysPart, index) = split(path)
        let keys = keysPart.split(separator: ".").map(String.init)
        guard let first = keys.first, let start = find(first, in: json) else { return nil }
        var node: Any = start
        for key in keys.dropFirst() {
            guard let map = node as? [String: Any], let next = map[key] else { return nil }
            node = next
        }
        if let index {
            if let map = node as? [String: Any] {
                guard let hit = map[index] ?? map.first(where: { Double($0.key) != nil && Double($0.key) == Double(index) })?.value else { return nil }
                node = hit
            } else if let list = node as? [Any], let i = Int(index), list.indices.contains(i) {
                node = list[i]
            } else {
                return nil
            }
        }
        return (node as? NSNumber)?.doubleValue
    }

    /// The keys of the map (sorted) or the indices of the list at `path` (dotted keys, no `@`), nil
    /// when there is neither: what `name@*` in an experiment's `compare` expands to.
    public static func keys(in json: Any, path: String) -> [String]? {
        let keys = path.split(separator: ".").map(String.init)
        guard let first = keys.first, var node = find(first, in: json) else { return nil }
        for key in keys.dropFirst() {
            guard let map = node as? [String: Any], let next = map[key] else { return nil }
            node = next
        }
        if let map = node as? [String: Any] { return map.keys.sorted() }
        if let list = node as? [Any] { return list.indices.map(String.init) }
        return nil
    }

    /// `name@index` -> (name, index).
    static func split(_ path: String) -> (String, String?) {
        guard let at = path.firstIndex(of: "@") else { return (path, nil) }
        return (String(path[..<at]), String(path[path.index(after: at)...]))
    }

    /// The value of `key` at the shallowest depth of `json` (maps only, keys sorted at each level).
    static func find(_ key: String, in json: Any) -> Any? {
        var level: [Any] = [json]
        while !level.isEmpty {
            var next: [Any] = []
            for node in level {
                guard let map = node as? [String: Any] else { continue }
                if let hit = map[key] { return hit }
                next += map.keys.sorted().compactMap { map[$0] }
            }
            level = next
        }
        return nil
    }
}

/// The comparison table of an ablation: one row per grid cell, each metric's mean ± sample standard
/// deviation over the cell's seeds, the best mean per column marked (highest is best).
public struct Comparison: Sendable {
    public struct Row: Sendable, Equatable {
        /// The cell's settings, `path=value, ...`.
        public var name: String
        /// Per metric, the values of the seeds that produced it.
        public var values: [[Double]]
        /// Seeds run for the cell.
        public var seeds: Int
        /// Why the cell has no results (a failed stage), nil when it has them.
        public var failure: String?
        /// The cell's values without their paths (`CT`), for chart axes; the name by default.
        public var shortName: String

        public init(name: String, values: [[Double]], seeds: Int, failure: String? = nil, shortName: String? = nil) {
            self.name = name
            self.values = values
            self.seeds = seeds
            self.failure = failure
            self.shortName = shortName ?? name
        }
    }

    public var metrics: [String]
    public var rows: [Row]

    public init(metrics: [String], rows: [Row]) {
        self.metrics = metrics
        self.rows = rows
    }

    static func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }

    static func std(_ values: [Double]) -> Double? {
        guard values.count > 1, let m = mean(values) else { return nil }
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// For each metric, the rows with the highest mean (ties all marked).
    public var best: [Set<Int>] {
        metrics.indices.map { column in
            let means = rows.enumerated().compactMap { i, row in row.failure == nil ? Self.mean(row.values[column]).map { (i, $0) } : nil }
            guard let top = means.map(\.1).max() else { return [] }
            return Set(means.filter { $0.1 == top }.map(\.0))
        }
    }

    /// Markdown (also what the terminal shows): `mean ± std`, `*` on each column's best.
    public var table: Table {
        let best = self.best
        let failures = rows.contains { $0.failure != nil }
        return Table(header: ["variant"] + metrics + ["seeds"] + (failures ? ["note"] : []), rows: rows.enumerated().map { i, row in
            if let failure = row.failure {
                return [row.name] + metrics.map { _ in "failed" } + ["\(row.seeds)", failure]
            }
            return [row.name] + metrics.indices.map { column -> String in
                guard let m = Self.mean(row.values[column]) else { return "n/a" }
                let text = Self.std(row.values[column]).map { String(format: "%.4f ± %.4f", m, $0) } ?? String(format: "%.4f", m)
                return best[column].contains(i) ? text + " *" : text
            } + ["\(row.seeds)"] + (failures ? [""] : [])
        })
    }

    /// CSV: per metric its mean, std and number of values; `failure` last.
    public var csv: String {
        var lines = [(["variant"] + metrics.flatMap { ["\($0) mean", "\($0) std", "\($0) n"] } + ["seeds", "failure"]).map(CSV.field).joined(separator: ",")]
        for row in rows {
            var cells = [CSV.field(row.name)]
            for column in metrics.indices {
                let values = row.values[column]
                cells += [Self.mean(values).map { String(format: "%.6g", $0) } ?? "", Self.std(values).map { String(format: "%.6g", $0) } ?? "", "\(values.count)"]
            }
            cells += ["\(row.seeds)", CSV.field(row.failure ?? "")]
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// JSON: each row's name, seeds, failure, and per metric its values, mean and std.
    public var json: Data {
        let best = self.best
        let object: [[String: Any]] = rows.enumerated().map { i, row in
            var metricsObject: [String: Any] = [:]
            for (column, metric) in metrics.enumerated() {
                var entry: [String: Any] = ["values": row.values[column], "best": best[column].contains(i)]
                if let m = Self.mean(row.values[column]) { entry["mean"] = m }
                if let s = Self.std(row.values[column]) { entry["std"] = s }
                metricsObject[metric] = entry
            }
            var result: [String: Any] = ["variant": row.name, "seeds": row.seeds, "metrics": metricsObject]
            if let failure = row.failure { result["failure"] = failure }
            return result
        }
        return (try? JSONSerialization.data(withJSONObject: ["metrics": metrics, "rows": object], options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }

}
