extension Recipe {
    /// Reads, overrides, interpolates and validates a recipe. Throws the first `RecipeError`.
    ///
    /// - Parameters:
    ///   - text: the YAML text.
    ///   - file: the name to report in errors.
    ///   - overrides: `--set` overrides, applied in order before interpolation.
    ///   - kinds: the stage kinds that exist.
    public static func parse(_ text: String, file: String, overrides: [Override] = [], kinds: [String]) throws -> Recipe {
        var root = try YAMLReader.read(text, file: file)
        guard case .map = root.content else {
            throw RecipeError(root.location, path: "", "a recipe is a mapping with `pipe: 1`, `name`, `stages`, not \(root.typeName)")
        }
        try checkKeys(root, allowed: RecipeSchema.topLevelKeys, path: "")
        if overrides.count > RecipeLimits.maxOverrides {
            throw RecipeError(overrides[RecipeLimits.maxOverrides].value.location, path: "",
                              "\(overrides.count) overrides, more than the limit of \(RecipeLimits.maxOverrides)",
                              hint: "change the recipe itself, or split the overrides over several recipes")
        }
        for override in overrides { try override.apply(to: &root) }
        root = try Interpolation.resolve(root)
        var parser = RecipeParser(root: root, file: file, kinds: kinds)
        return try parser.recipe()
    }

    static func checkKeys(_ node: Node, allowed: [String], path: String) throws {
        for entry in node.entries ?? [] where !allowed.contains(entry.key) {
            let full = path.isEmpty ? entry.key : "\(path).\(entry.key)"
            throw RecipeError(entry.keyLocation, path: full, "unknown key `\(entry.key)`",
                              hint: Suggestions.hint(for: entry.key, in: allowed))
        }
    }
}

/// Turns a resolved recipe document into the model, checking types, names and the graph.
private struct RecipeParser {
    let root: Node
    let file: String
    let kinds: [String]

    mutating func recipe() throws -> Recipe {
        let format = try required("pipe", in: root, path: "", hint: "start the recipe with `pipe: 1`")
        guard case .int(let version) = format.content, version == RecipeSchema.formatVersion else {
            throw RecipeError(format.location, path: "pipe", "unsupported recipe format `\(format.value)`",
                              hint: "this pipe reads `pipe: \(RecipeSchema.formatVersion)`")
        }
        let name = try string(try required("name", in: root, path: "", hint: "add `name: my-recipe`"), path: "name")
        let seed = try root["seed"].map { try nonNegativeInt($0, path: "seed") } ?? 0
        let params = root["params"] ?? Node(.map([]), at: root.location)
        guard case .map = params.content else {
            throw RecipeError(params.location, path: "params", "expected a mapping, got \(params.typeName)")
        }
        let stagesNode = try required("stages", in: root, path: "", hint: "add a `stages:` mapping")
        guard let entries = stagesNode.entries, !entries.isEmpty else {
            throw RecipeError(stagesNode.location, path: "stages", "expected a mapping of one or more stages, got \(stagesNode.typeName)")
        }
        var stages: [Stage] = []
        for entry in entries { stages.append(try stage(entry)) }
        let recipe = Recipe(file: file, name: name, seed: seed, params: params, stages: stages)
        try RecipeGraph.check(recipe)
        return recipe
    }

    private func stage(_ entry: Node.Entry) throws -> Stage {
        let name = entry.key
        let path = "stages.\(name)"
        guard Self.isIdentifier(name, allowDash: true) else {
            throw RecipeError(entry.keyLocation, path: path, "invalid stage name `\(name)`",
                              hint: "use letters, digits, `_` and `-`")
        }
        let node = entry.value
        guard case .map = node.content else {
            throw RecipeError(node.location, path: path, "expected a mapping with `kind:`, got \(node.typeName)")
        }
        try Recipe.checkKeys(node, allowed: RecipeSchema.stageKeys, path: path)
        let kindNode = try required("kind", in: node, path: path, hint: "add `kind:` (one of \(kinds.joined(separator: ", ")))")
        let kind = try string(kindNode, path: "\(path).kind")
        guard kinds.contains(kind) else {
            throw RecipeError(kindNode.location, path: "\(path).kind", "unknown kind `\(kind)`",
                              hint: Suggestions.hint(for: kind, in: kinds))
        }
        if kind != "command" {
            for key in node.entries ?? [] where RecipeSchema.commandOnlyKeys.contains(key.key) {
                throw RecipeError(key.keyLocation, path: "\(path).\(key.key)", "`\(key.key)` is only for `kind: command` stages",
                                  hint: "pass options of a `\(kind)` stage under `with:`")
            }
        }
        var command: String?
        if kind == "command" {
            let commandNode = try required("command", in: node, path: path, hint: "add `command: ...` (a shell command)")
            command = try string(commandNode, path: "\(path).command")
        }
        return Stage(name: name, location: entry.keyLocation, kind: kind,
                     inputs: try inputs(node["inputs"], path: "\(path).inputs"),
                     with: try with(node["with"], at: node.location, path: "\(path).with"),
                     seed: try node["seed"].map { try nonNegativeInt($0, path: "\(path).seed") },
                     command: command,
                     deps: try deps(node["deps"], path: "\(path).deps"),
                     env: try env(node["env"], path: "\(path).env"),
                     resources: try StageResources.parse(node["resources"], path: "\(path).resources"))
    }

    private func inputs(_ node: Node?, path: String) throws -> [Stage.Input] {
        guard let node, node.content != .null else { return [] }
        guard let entries = node.entries else {
            throw RecipeError(node.location, path: path, "expected a mapping of role: stage, got \(node.typeName)",
                              hint: "for example `inputs: {dataset: split}`")
        }
        return try entries.map { entry in
            guard Self.isIdentifier(entry.key, allowDash: false) else {
                throw RecipeError(entry.keyLocation, path: "\(path).\(entry.key)", "invalid role name `\(entry.key)`",
                                  hint: "roles become $PIPE_IN_<role>: use letters, digits and `_`")
            }
            let upstream = try string(entry.value, path: "\(path).\(entry.key)")
            return Stage.Input(role: entry.key, stage: upstream, location: entry.value.location)
        }
    }

    private func with(_ node: Node?, at location: SourceLocation, path: String) throws -> Node {
        guard let node, node.content != .null else { return Node(.map([]), at: location) }
        guard case .map = node.content else {
            throw RecipeError(node.location, path: path, "expected a mapping of options, got \(node.typeName)")
        }
        return node
    }

    private func deps(_ node: Node?, path: String) throws -> [Stage.Dependency] {
        guard let node, node.content != .null else { return [] }
        guard case .list(let items) = node.content else {
            throw RecipeError(node.location, path: path, "expected a list of files, got \(node.typeName)",
                              hint: "for example `deps: [train.py, configs/]`")
        }
        return try items.enumerated().map { index, item in
            let file = try string(item, path: "\(path).\(index)")
            guard !file.isEmpty else { throw RecipeError(item.location, path: "\(path).\(index)", "empty path") }
            return Stage.Dependency(path: file, location: item.location)
        }
    }

    private func env(_ node: Node?, path: String) throws -> [(name: String, value: String)] {
        guard let node, node.content != .null else { return [] }
        guard let entries = node.entries else {
            throw RecipeError(node.location, path: path, "expected a mapping of NAME: value, got \(node.typeName)")
        }
        return try entries.map { entry in
            let here = "\(path).\(entry.key)"
            guard Self.isIdentifier(entry.key, allowDash: false) else {
                throw RecipeError(entry.keyLocation, path: here, "invalid environment variable name `\(entry.key)`")
            }
            guard !entry.key.hasPrefix("PIPE_") else {
                throw RecipeError(entry.keyLocation, path: here, "`\(entry.key)` is set by pipe itself",
                                  hint: "choose a name that does not start with PIPE_")
            }
            switch entry.value.content {
            case .list, .map, .null:
                throw RecipeError(entry.value.location, path: here, "expected a text or number value, got \(entry.value.typeName)")
            default:
                return (entry.key, entry.value.value.description)
            }
        }
    }

    private func required(_ key: String, in node: Node, path: String, hint: String) throws -> Node {
        if let value = node[key] { return value }
        throw RecipeError(node.location, path: path.isEmpty ? key : "\(path).\(key)", "missing required key `\(key)`", hint: hint)
    }

    private func string(_ node: Node, path: String) throws -> String {
        guard let text = node.string else {
            throw RecipeError(node.location, path: path, "expected text, got \(node.typeName) `\(node.value.json)`")
        }
        return text
    }

    private func nonNegativeInt(_ node: Node, path: String) throws -> Int {
        guard case .int(let value) = node.content, value >= 0 else {
            throw RecipeError(node.location, path: path, "expected a non-negative integer, got \(node.typeName) `\(node.value.json)`")
        }
        return value
    }

    /// Letters, digits and `_` (and `-` where allowed), not starting with a digit or `-` unless `allowDash`.
    static func isIdentifier(_ name: String, allowDash: Bool) -> Bool {
        func isLetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        guard let first = name.unicodeScalars.first, isLetter(first) || (allowDash && isDigit(first)) else { return false }
        return name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) || (allowDash && $0 == "-") }
    }
}
