/// What a stage asks of a cluster scheduler (`resources:` in a stage). Never part of the cache key:
/// where a stage runs does not change what it computes.
///
/// ```yaml
/// resources: {cpus: 8, gpus: 1, memory: 32G, time: "4:00:00", partition: gpu}
/// ```
public struct StageResources: Sendable, Equatable {
    /// CPU cores for the stage's one task.
    public var cpus: Int?
    /// GPUs (a generic resource, `gpu:N`).
    public var gpus: Int?
    /// Memory: a number of megabytes or a size with a unit, `500M`, `32G`.
    public var memory: String?
    /// A time limit: minutes, `MM:SS`, `HH:MM:SS` or `D-HH[:MM[:SS]]`.
    public var time: String?
    /// The partition (queue) to submit to.
    public var partition: String?

    public static let keys = ["cpus", "gpus", "memory", "time", "partition"]

    public init(cpus: Int? = nil, gpus: Int? = nil, memory: String? = nil, time: String? = nil, partition: String? = nil) {
        self.cpus = cpus
        self.gpus = gpus
        self.memory = memory
        self.time = time
        self.partition = partition
    }

    /// The fields that are set, by name (`cpus` -> `"8"`).
    public var fields: [String: String] {
        var fields: [String: String] = [:]
        fields["cpus"] = cpus.map(String.init)
        fields["gpus"] = gpus.map(String.init)
        fields["memory"] = memory
        fields["time"] = time
        fields["partition"] = partition
        return fields
    }

    /// Reads a `resources:` mapping; errors name the field's line and column.
    public static func parse(_ node: Node?, path: String) throws -> StageResources {
        guard let node, node.content != .null else { return StageResources() }
        guard let entries = node.entries else {
            throw RecipeError(node.location, path: path, "expected a mapping of resources, got \(node.typeName)",
                              hint: "for example `resources: {cpus: 8, gpus: 1, memory: 32G, time: \"4:00:00\"}`")
        }
        var resources = StageResources()
        for entry in entries {
            let here = "\(path).\(entry.key)"
            let value = entry.value
            switch entry.key {
            case "cpus", "gpus":
                let minimum = entry.key == "cpus" ? 1 : 0
                guard case .int(let count) = value.content, count >= minimum else {
                    throw RecipeError(value.location, path: here, "expected an integer >= \(minimum), got \(value.typeName) `\(value.value.json)`")
                }
                if entry.key == "cpus" { resources.cpus = count } else { resources.gpus = count }
            case "memory":
                // A bare number is megabytes (Slurm's default unit).
                guard let text = text(of: value, numberSuffix: "M"), isMemory(text) else {
                    throw RecipeError(value.location, path: here, "expected a memory size such as 500M or 32G, got `\(value.value.json)`",
                                      hint: "a number is megabytes; units are K, M, G, T")
                }
                resources.memory = text
            case "time":
                guard let text = text(of: value, numberSuffix: ""), isTimeLimit(text) else {
                    throw RecipeError(value.location, path: here, "expected a time limit such as 90 (minutes), \"2:00:00\" or \"1-12:00:00\", got `\(value.value.json)`",
                                      hint: "quote times with colons: time: \"2:00:00\"")
                }
                resources.time = text
            case "partition":
                guard let text = value.string, !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || "_-.,".contains($0) }) else {
                    throw RecipeError(value.location, path: here, "expected a partition name, got `\(value.value.json)`")
                }
                resources.partition = text
            default:
                throw RecipeError(entry.keyLocation, path: here, "unknown resource `\(entry.key)`",
                                  hint: Suggestions.hint(for: entry.key, in: keys) ?? "resources are \(keys.joined(separator: ", "))")
            }
        }
        return resources
    }

    /// A text value, or a positive integer written with `numberSuffix`.
    static func text(of node: Node, numberSuffix: String) -> String? {
        if case .int(let number) = node.content { return number > 0 ? "\(number)\(numberSuffix)" : nil }
        return node.string
    }

    /// `500`, `500M`, `32G`: digits and an optional unit.
    static func isMemory(_ text: String) -> Bool {
        var digits = Substring(text)
        if let last = digits.last, "KMGTkmgt".contains(last) { digits = digits.dropLast() }
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) && Int(digits).map { $0 > 0 } == true
    }

    /// Slurm's time formats: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
    public static func isTimeLimit(_ text: String) -> Bool {
        func numbers(_ part: Substring) -> Int? {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
            return fields.count
        }
        let dash = text.split(separator: "-", omittingEmptySubsequences: false)
        switch dash.count {
        case 1:
            guard let count = numbers(dash[0]), count <= 3 else { return false }
            return text != "0"
        case 2:
            guard dash[0].allSatisfy({ $0.isASCII && $0.isNumber }), !dash[0].isEmpty, let count = numbers(dash[1]) else { return false }
            return count <= 3
        default:
            return false
        }
    }
}
