import Foundation

/// An ablation grid (`experiments/*.yaml`): a recipe, axes whose values are applied to it as
/// overrides, seed repeats, and the metrics to compare.
///
/// ```yaml
/// recipe: ../recipes/at-grpo.yaml
/// set: {params.images: 400}               # applied to every variant (e.g. a quick scale)
/// grid:                                   # cartesian product
///   params.reasoning: [cot, instruct]
/// zip:                                    # axes of one group vary together
///   - {stages.robust.with.attack.eps: [0.0157, 0.0314], stages.eval.with.attack.eps: [[0.0157], [0.0314]]}
/// seeds: [1, 2, 3]
/// compare: [eval.accuracy, eval.certified_accuracy@0.25]
/// ```
public struct Experiment: Sendable {
    /// One axis: a recipe path and its values.
    public struct Axis: Sendable, Equatable {
        public var path: String
        public var values: [Node]
        public var location: SourceLocation

        public init(path: String, values: [Node], location: SourceLocation) {
            self.path = path
            self.values = values
            self.location = location
        }
    }

    /// One cell of the grid: its settings (path -> value, in axis order) and its seed (nil: the recipe's).
    public struct Variant: Sendable, Equatable {
        public var settings: [(path: String, value: Node)]
        public var seed: Int?

        /// `path=value, ...`: the settings as the user would write them.
        public var label: String {
            settings.map { "\($0.path)=\(Self.text($0.value.value))" }.joined(separator: ", ")
        }

        /// The values alone (`CT`, `cot, 0.03`), for chart axes.
        public var shortLabel: String {
            settings.map { Self.text($0.value.value) }.joined(separator: ", ")
        }

        /// The overrides that make the recipe this variant.
        public var overrides: [Override] {
            var result = settings.map { Override(path: $0.path.split(separator: ".").map(String.init), value: $0.value, text: "\($0.path)=\($0.value.value.json)") }
            if let seed {
                let origin = SourceLocation(file: "seed \(seed)", line: 0, column: 0)
                result.append(Override(path: ["seed"], value: Node(.int(seed), at: origin), text: "seed=\(seed)"))
            }
            return result
        }

        /// A value as a setting shows it: text as is, anything else as JSON.
        static func text(_ value: Value) -> String {
            if case .string(let text) = value { return text }
            return value.json
        }

        public static func == (a: Variant, b: Variant) -> Bool {
            a.seed == b.seed && a.settings.map(\.path) == b.settings.map(\.path) && a.settings.map { $0.value.value } == b.settings.map { $0.value.value }
        }
    }

    public var file: String
    /// The recipe file, resolved against the experiment's directory.
    public var recipe: String
    public var name: String
    /// Settings applied to every variant before its own (path -> value).
    public var shared: [(path: String, value: Node)]
    public var grid: [Axis]
    /// Groups of axes that vary together (each group's lists have one length).
    public var zip: [[Axis]]
    public var seeds: [Int]
    /// Metrics as `stage.path` (`eval.accuracy`), `@key` indexing a map (`eval.certified_accuracy@0.25`).
    public var compare: [String]

    static let keys = ["name", "recipe", "set", "grid", "zip", "seeds", "compare"]

    /// Parses an experiment file's text; every problem is located.
    public static func parse(_ text: String, file: String) throws -> Experiment {
        let root = try YAMLReader.read(text, file: file)
        guard let entries = root.entries else {
            throw RecipeError(root.location, path: "", "an experiment is a mapping with `recipe`, `grid` and `compare`")
        }
        for entry in entries where !keys.contains(entry.key) {
            throw RecipeError(entry.keyLocation, path: entry.key, "unknown experiment field `\(entry.key)`", hint: Suggestions.hint(for: entry.key, in: keys))
        }
        guard let recipeNode = root["recipe"], let recipePath = recipeNode.string, !recipePath.isEmpty else {
            throw RecipeError(root["recipe"]?.location ?? root.location, path: "recipe", "missing `recipe`: the recipe file the grid varies",
                              hint: "e.g. recipe: ../recipes/at-grpo.yaml")
        }
        let directory = (file as NSString).deletingLastPathComponent
        let recipe = recipePath.hasPrefix("/") || directory.isEmpty ? recipePath : directory + "/" + recipePath
        let defaultName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let grid = try root["grid"].map { try axes($0, path: "grid") } ?? []
        var zip: [[Axis]] = []
        if let zipNode = root["zip"] {
            guard case .list(let groups) = zipNode.content else {
                throw RecipeError(zipNode.location, path: "zip", "expected a list of groups, each a mapping of axes that vary together")
            }
            for (index, group) in groups.enumerated() {
                let axes = try axes(group, path: "zip.\(index)")
                if let first = axes.first, let other = axes.first(where: { $0.values.count != first.values.count }) {
                    throw RecipeError(other.location, path: "zip.\(index).\(other.path)",
                                      "\(other.values.count) values, but `\(first.path)` in the same group has \(first.values.count)",
                                      hint: "axes in one zip group vary together, so their lists need one length")
                }
                zip.append(axes)
            }
        }
        let all = grid + zip.flatMap { $0 }
        var seen = Set<String>()
        for axis in all where !seen.insert(axis.path).inserted {
            throw RecipeError(axis.location, path: axis.path, "the axis `\(axis.path)` is given twice")
        }
        var seeds: [Int] = []
        if let seedsNode = root["seeds"] {
            guard case .list(let items) = seedsNode.content else { throw RecipeError(seedsNode.location, path: "seeds", "expected a list of integers") }
            seeds = try items.map {
                guard case .int(let seed) = $0.content else { throw RecipeError($0.location, path: "seeds", "expected an integer, got \($0.typeName)") }
                return seed
            }
        }
        var compare: [String] = []
        if let compareNode = root["compare"] {
            let items: [Node]
            if case .list(let list) = compareNode.content { items = list } else { items = [compareNode] }
            compare = try items.map {
                guard let metric = $0.string, metric.contains(".") else {
                    throw RecipeError($0.location, path: "compare", "expected a metric `stage.name`, e.g. eval.accuracy")
                }
                return metric
            }
        }
        var set: [(path: String, value: Node)] = []
        if let setNode = root["set"] {
            guard let entries = setNode.entries else {
                throw RecipeError(setNode.location, path: "set", "expected a mapping of recipe paths to values", hint: "e.g. set: {params.images: 400}")
            }
            set = entries.map { ($0.key, $0.value) }
        }
        return Experiment(file: file, recipe: recipe, name: root["name"]?.string ?? defaultName, shared: set, grid: grid, zip: zip, seeds: seeds,
                          compare: compare)
    }

    static func axes(_ node: Node, path: String) throws -> [Axis] {
        guard let entries = node.entries else {
            throw RecipeError(node.location, path: path, "expected a mapping of recipe paths to lists of values", hint: "e.g. params.reasoning: [cot, instruct]")
        }
        return try entries.map { entry in
            guard entry.key.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty }) else {
                throw RecipeError(entry.keyLocation, path: "\(path).\(entry.key)", "the path `\(entry.key)` has an empty part")
            }
            guard case .list(let values) = entry.value.content, !values.isEmpty else {
                throw RecipeError(entry.value.location, path: "\(path).\(entry.key)", "expected a non-empty list of values",
                                  hint: "an axis with one value is a plain setting; write it as a list: [\(entry.value.value.json)]")
            }
            return Axis(path: entry.key, values: values, location: entry.keyLocation)
        }
    }

    /// The `set:` settings as overrides (they come before each variant's own).
    public var baseOverrides: [Override] {
        shared.map { Override(path: $0.path.split(separator: ".").map(String.init), value: $0.value, text: "set \($0.path)=\($0.value.value.json)") }
    }

    /// How many variants the grid has, counted without building them: each grid axis's values, each
    /// zip group's length and the seeds, multiplied. Nil when the product overflows an `Int`.
    public var variantCount: Int? {
        let sizes = grid.map(\.values.count) + zip.map { $0.first?.values.count ?? 1 } + [max(seeds.count, 1)]
        var product = 1
        for size in sizes {
            let (next, overflow) = product.multipliedReportingOverflow(by: size)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// `variants`, once their number is checked against `RecipeLimits.maxVariants`.
    public func checkedVariants() throws -> [Variant] {
        let count = variantCount
        guard let count, count <= RecipeLimits.maxVariants else { throw tooManyVariants(count) }
        return variants
    }

    private func tooManyVariants(_ count: Int?) -> RecipeError {
        var factors = grid.map { "\($0.values.count) \($0.path)" } + zip.map { "\($0.first?.values.count ?? 1) zipped" }
        if !seeds.isEmpty { factors.append("\(seeds.count) seeds") }
        let asked = count.map { "\($0) variants" } ?? "more than \(Int.max) variants"
        let location = grid.first?.location ?? zip.first?.first?.location ?? SourceLocation(file: file, line: 1, column: 1)
        return RecipeError(location, path: "", "the grid asks for \(asked) (\(factors.joined(separator: " x "))), more than the limit of \(RecipeLimits.maxVariants)",
                           hint: "run a smaller grid, or split it into several experiments")
    }

    /// Every variant: the grid's cartesian product (first axis slowest) times each zip group's
    /// positions, then each seed (seeds vary fastest; no seeds: one variant per cell, recipe's seed).
    public var variants: [Variant] {
        var cells: [[(path: String, value: Node)]] = [[]]
        for axis in grid {
            cells = cells.flatMap { cell in axis.values.map { cell + [(axis.path, $0)] } }
        }
        for group in zip {
            let count = group.first?.values.count ?? 0
            cells = cells.flatMap { cell in (0..<count).map { i in cell + group.map { ($0.path, $0.values[i]) } } }
        }
        let seedList: [Int?] = seeds.isEmpty ? [nil] : seeds.map { $0 }
        return cells.flatMap { cell in seedList.map { Variant(settings: cell, seed: $0) } }
    }
}
