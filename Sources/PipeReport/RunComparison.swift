import Foundation

/// Metrics of several runs side by side (`pipe compare`): every numeric value of each stage's
/// metrics, as `stage.path`, one column per run and the difference from the first run.
public struct RunComparison: Sendable {
    /// Each run's label and its metrics (`stage.path` -> value).
    public var runs: [(label: String, metrics: [String: Double])]

    public init(runs: [(label: String, metrics: [String: Double])]) {
        self.runs = runs
    }

    /// Every numeric leaf of `json` under `prefix`: map keys joined by dots (lists are skipped; their
    /// values appear in maps such as `robust_accuracy`).
    public static func flatten(_ json: Any, prefix: String) -> [String: Double] {
        var out: [String: Double] = [:]
        if let map = json as? [String: Any] {
            for (key, value) in map { out.merge(flatten(value, prefix: prefix + "." + key)) { a, _ in a } }
        } else if !(json is [Any]), !(json is String), let number = json as? NSNumber {
            out[prefix] = number.doubleValue
        }
        return out
    }

    /// The table: one row per metric any run has (sorted), `changed` keeping only rows whose values differ.
    public func table(changedOnly: Bool = false, matching filter: String? = nil) -> Table {
        let names = Set(runs.flatMap(\.metrics.keys)).filter { name in filter.map { name.contains($0) } ?? true }.sorted()
        var header = ["metric"] + runs.map(\.label)
        header += runs.dropFirst().map { "\($0.label) - \(runs[0].label)" }
        var rows: [[String]] = []
        for name in names {
            let values = runs.map { $0.metrics[name] }
            if changedOnly, Set(values.map { $0.map { String(format: "%.6g", $0) } ?? "-" }).count <= 1 { continue }
            let deltas = values.dropFirst().map { value -> String in
                guard let value, let base = values[0] else { return "" }
                return String(format: "%+.4g", value - base)
            }
            rows.append([name] + values.map { $0.map { String(format: "%.4g", $0) } ?? "-" } + deltas)
        }
        return Table(header: header, rows: rows)
    }
}
