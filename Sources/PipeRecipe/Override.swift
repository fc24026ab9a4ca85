/// One `--set path=value` override, applied to the recipe before interpolation.
///
/// The value is read by YAML rules (`3` is a number, `[a, b]` a list, `"3"` a string).
/// `params.*` paths must exist in the recipe; under a stage's `with`, `env` and `inputs`
/// new keys may be added (a kind's options are checked later, by the kind).
public struct Override: Equatable, Sendable {
    public var path: [String]
    public var value: Node
    /// The override as the user wrote it, used as the "file" of its errors.
    public var text: String

    /// An override of `path` with a value read elsewhere (an experiment's grid); `text` names it in errors.
    public init(path: [String], value: Node, text: String) {
        self.path = path
        self.value = value
        self.text = text
    }

    /// Parses `path=value`.
    public init(parsing text: String) throws {
        let origin = SourceLocation(file: "--set \(text)", line: 0, column: 0)
        guard let equals = text.firstIndex(of: "=") else {
            throw RecipeError(origin, path: "", "expected `path=value`", hint: "for example --set params.reasoning=instruct")
        }
        let pathText = String(text[..<equals])
        let path = pathText.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !pathText.isEmpty, !path.contains(where: \.isEmpty) else {
            throw RecipeError(origin, path: pathText, "the path `\(pathText)` has an empty part",
                              hint: "write dotted keys such as stages.train.with.lr")
        }
        let valueText = String(text[text.index(after: equals)...])
        var value = try YAMLReader.read(valueText, file: origin.file)
        value.relocate(to: origin)
        self.path = path
        self.value = value
        self.text = text
    }

    /// Applies this override to a recipe document.
    func apply(to root: inout Node) throws {
        let origin = value.location
        let dotted = path.joined(separator: ".")
        guard path.count <= RecipeLimits.maxDepth else {
            throw RecipeError(origin, path: String(dotted.prefix(80)) + "…", "a path of \(path.count) keys, more than the limit of \(RecipeLimits.maxDepth)")
        }
        let top = path[0]
        guard RecipeSchema.topLevelKeys.contains(top) else {
            throw RecipeError(origin, path: dotted, "no recipe field `\(top)`",
                              hint: Suggestions.hint(for: top, in: RecipeSchema.topLevelKeys))
        }
        // How many leading segments must already exist: every one under `params`; under `stages`, the
        // stage itself (its fields may be added, and `with`, `env` and `inputs` take new keys).
        let mustExist: Int
        switch top {
        case "params":
            mustExist = path.count
        case "stages":
            if path.count >= 3, !RecipeSchema.stageKeys.contains(path[2]) {
                throw RecipeError(origin, path: dotted, "no stage field `\(path[2])`",
                                  hint: Suggestions.hint(for: path[2], in: RecipeSchema.stageKeys))
            }
            mustExist = min(path.count, 2)
        default:
            mustExist = path.count > 1 ? path.count : 0
        }
        try Override.set(&root, path[...], value: value, mustExist: mustExist, walked: [], origin: origin)
    }

    private static func set(_ node: inout Node, _ path: ArraySlice<String>, value: Node, mustExist: Int,
                            walked: [String], origin: SourceLocation) throws {
        guard let key = path.first else {
            node = value
            return
        }
        let here = walked + [key]
        let dotted = here.joined(separator: ".")
        switch node.content {
        case .map(var entries):
            if let index = entries.firstIndex(where: { $0.key == key }) {
                try set(&entries[index].value, path.dropFirst(), value: value, mustExist: mustExist - 1,
                        walked: here, origin: origin)
            } else {
                guard mustExist <= 0 else {
                    let what = walked.isEmpty ? "recipe field" : "key under `\(walked.joined(separator: "."))`"
                    throw RecipeError(origin, path: dotted, "no \(what) named `\(key)`",
                                      hint: Suggestions.hint(for: key, in: entries.map(\.key)))
                }
                var child = Node(.map([]), at: origin)
                try set(&child, path.dropFirst(), value: value, mustExist: 0, walked: here, origin: origin)
                entries.append(Node.Entry(key: key, keyLocation: origin, value: child))
            }
            node.content = .map(entries)
        case .list(var items):
            guard let index = Int(key), items.indices.contains(index) else {
                throw RecipeError(origin, path: dotted, "`\(key)` is not an index of the list at `\(walked.joined(separator: "."))` (0..<\(items.count))")
            }
            try set(&items[index], path.dropFirst(), value: value, mustExist: mustExist - 1, walked: here, origin: origin)
            node.content = .list(items)
        case .null where mustExist <= 0:
            node = Node(.map([]), at: origin)
            try set(&node, path, value: value, mustExist: mustExist, walked: walked, origin: origin)
        default:
            throw RecipeError(origin, path: dotted,
                              "cannot set `\(key)` inside `\(walked.joined(separator: "."))`, which is \(node.typeName)")
        }
    }
}

extension Node {
    /// Moves this node and every node inside it to `location` (for values that came from the command line).
    mutating func relocate(to location: SourceLocation) {
        self.location = location
        switch content {
        case .list(var items):
            for i in items.indices { items[i].relocate(to: location) }
            content = .list(items)
        case .map(var entries):
            for i in entries.indices {
                entries[i].keyLocation = location
                entries[i].value.relocate(to: location)
            }
            content = .map(entries)
        default: break
        }
    }
}
