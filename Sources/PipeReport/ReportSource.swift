import Foundation
import PipeTraining

/// A CSV of numbers with a header (a training stage's `curves.csv`).
public struct CurveTable: Sendable, Equatable {
    public var header: [String]
    public var rows: [[Double]]

    /// Parses `text`; an empty cell (a column a step does not measure) is NaN; a cell that is not a
    /// number is an error naming its line.
    public init(csv text: String, file: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first else { throw ReportError("\(file) is empty") }
        let names = first.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        header = names
        rows = try lines.dropFirst().enumerated().map { index, line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == names.count else {
                throw ReportError("\(file):\(index + 2): \(cells.count) cells, the header has \(names.count)")
            }
            return try cells.map {
                let cell = $0.trimmingCharacters(in: .whitespaces)
                if cell.isEmpty { return .nan }
                guard let value = Double(cell) else {
                    throw ReportError("\(file):\(index + 2): `\($0)` is not a number")
                }
                return value
            }
        }
    }

    /// The (step, value) points of a column (the first column is the step) where it has a value, nil
    /// when absent or never measured.
    public func column(_ name: String) -> [(x: Double, y: Double)]? {
        guard let index = header.firstIndex(of: name) else { return nil }
        let points = rows.compactMap { $0[index].isNaN ? nil : (x: $0[0], y: $0[index]) }
        return points.isEmpty ? nil : points
    }
}

/// A problem reading a report's inputs.
public struct ReportError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What one input of a report holds, by the files its artifact has: an evaluation (`evaluate`'s
/// `metrics.json`), a smoothing calibration (`smooth`'s `smoothing.json`), training curves
/// (`curves.csv` of `sft`, `grpo`, `at-grpo`), and the numbers of any stage's `metrics.json`
/// (a `command` stage's included).
public struct ReportSource: Sendable {
    public var label: String
    public var evaluation: EvaluationReport?
    public var smoothing: SmoothingChoice?
    public var curves: CurveTable?
    /// Every numeric leaf of the stage's `metrics.json`, as `path.to.value` -> value.
    public var metrics: [String: Double]

    public init(label: String, evaluation: EvaluationReport? = nil, smoothing: SmoothingChoice? = nil, curves: CurveTable? = nil,
                metrics: [String: Double] = [:]) {
        self.label = label
        self.evaluation = evaluation
        self.smoothing = smoothing
        self.curves = curves
        self.metrics = metrics
    }

    /// Reads the artifact in `directory`; a file that is present but malformed is an error.
    public init(label: String, directory: String) throws {
        try self.init(label: label) { FileManager.default.contents(atPath: directory + "/" + $0) }
    }

    /// Reads an artifact through `file`, which gives the bytes of a top-level file by name (nil when
    /// the artifact has none); a file that is present but malformed is an error.
    public init(label: String, file: (String) -> Data?) throws {
        self.init(label: label)
        if let data = file("smoothing.json") {
            smoothing = try Self.decode(SmoothingChoice.self, data, file: "\(label)/smoothing.json")
        }
        if let data = file("metrics.json") {
            guard let json = try? JSONSerialization.jsonObject(with: data) else {
                throw ReportError("\(label)/metrics.json is not JSON")
            }
            metrics = Dictionary(uniqueKeysWithValues: RunComparison.flatten(json, prefix: "").map { (String($0.key.dropFirst()), $0.value) })
            if file("attacks.csv") != nil {
                evaluation = try Self.decode(EvaluationReport.self, data, file: "\(label)/metrics.json")
            }
        }
        if let data = file("curves.csv") {
            curves = try CurveTable(csv: String(decoding: data, as: UTF8.self), file: "\(label)/curves.csv")
        }
    }

    /// Whether the input holds anything a report shows.
    public var isEmpty: Bool { evaluation == nil && smoothing == nil && curves == nil && metrics.isEmpty }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw ReportError("\(file) is not what the report expects (\(error)); was it written by this version of pipe?")
        }
    }
}
