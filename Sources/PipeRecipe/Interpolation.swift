/// Resolves `${params.path}` references (OmegaConf style).
///
/// A string that is exactly one reference takes the referenced value with its type; a reference
/// inside other text is rendered as text. `$${` writes a literal `${`. Any other `${...}` (such as
/// `${HOME}` in a shell command) is left as it is.
///
/// Each param is resolved once and remembered, walking the document with an explicit stack: a
/// chain of references costs time linear in its length and no recursion. A value that grows past
/// `RecipeLimits` (values, text, depth) as references are resolved is refused, naming its path.
enum Interpolation {
    static func resolve(_ root: Node) throws -> Node {
        var resolver = Resolver(params: root["params"] ?? Node(.map([]), at: root.location))
        return try resolver.resolve(root)
    }

    enum Piece { case text(String), reference(String) }

    /// Splits text into literal runs and `params.` references.
    static func split(_ text: String, at location: SourceLocation, path: String) throws -> [Piece] {
        var pieces: [Piece] = []
        var literal = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            literal += rest[..<dollar]
            let after = rest[dollar...]
            if after.hasPrefix("$${") {
                literal += "${"
                rest = after.dropFirst(3)
            } else if after.hasPrefix("${params.") || after.hasPrefix("${params}") {
                guard let close = after.firstIndex(of: "}") else {
                    throw RecipeError(location, path: path, "unclosed `${` in \"\(text)\"", hint: "close it with `}`")
                }
                let reference = String(after[after.index(after.startIndex, offsetBy: 2)..<close])
                if !literal.isEmpty { pieces.append(.text(literal)); literal = "" }
                pieces.append(.reference(reference))
                rest = after[after.index(after: close)...]
            } else {
                literal += "$"
                rest = after.dropFirst()
            }
        }
        literal += rest
        if !literal.isEmpty || pieces.isEmpty { pieces.append(.text(literal)) }
        return pieces
    }

    /// Whether `text` contains `${` (a byte scan: most strings have no `$` at all).
    static func mayReference(_ text: String) -> Bool {
        var previousWasDollar = false
        for byte in text.utf8 {
            if previousWasDollar && byte == UInt8(ascii: "{") { return true }
            previousWasDollar = byte == UInt8(ascii: "$")
        }
        return false
    }
}

/// A resolved value and how big it is.
private struct Resolved {
    var node: Node
    /// Values in it (itself included), bytes of its text (strings and keys), and nesting depth.
    var values: Int, textBytes: Int, depth: Int

    init(node: Node, values: Int, textBytes: Int, depth: Int) {
        (self.node, self.values, self.textBytes, self.depth) = (node, values, textBytes, depth)
    }

    /// A scalar: nothing to resolve inside.
    init(leaf node: Node) {
        self.init(node: node, values: 1, textBytes: node.string?.utf8.count ?? 0, depth: 1)
    }
}

/// One node on the resolver's stack, waiting for what it needs: its children (a list or mapping),
/// or the params it references (a string).
private struct Frame {
    /// The node's path (`stages.train.with.lr`, or `params.x` reached through a reference).
    var path: [String]
    var node: Node
    /// Whether a reference led here (rather than the walk of the document).
    var viaReference: Bool
    /// What the node needs, in order; `results` holds the first `results.count` of them, resolved.
    var needs: [Need]
    var results: [Resolved] = []
    /// A string's pieces.
    var pieces: [Interpolation.Piece] = []
}

private struct Need {
    var path: [String]
    var node: Node
    /// The reference as written (`params.a.b`), or nil for a child.
    var reference: String?
}

private struct Resolver {
    /// The params as written: references are looked up here.
    let params: Node
    /// Resolved params by path: each is resolved once.
    var resolvedParams: [[String]: Resolved] = [:]
    /// The keys of large written mappings in params, by path, so that each lookup costs one step per key.
    var keyIndexes: [[String]: [String: Node]] = [:]

    init(params: Node) { self.params = params }

    mutating func resolve(_ root: Node) throws -> Node {
        guard let first = try frame(Need(path: [], node: root, reference: nil), viaReference: false) else { return root }
        var stack = [first]
        var inProgress: Set<[String]> = [[]]
        while true {
            let top = stack.count - 1
            let index = stack[top].results.count
            if index < stack[top].needs.count {
                let need = stack[top].needs[index]
                if let known = resolvedParams[need.path] {
                    stack[top].results.append(known)
                    continue
                }
                if inProgress.contains(need.path) { throw cycle(at: need, stack: stack) }
                guard let next = try frame(need, viaReference: need.reference != nil) else {
                    stack[top].results.append(Resolved(leaf: need.node))
                    continue
                }
                stack.append(next)
                inProgress.insert(need.path)
                continue
            }
            let finished = stack.removeLast()
            inProgress.remove(finished.path)
            let value = try build(finished)
            if finished.path.first == "params" { resolvedParams[finished.path] = value }
            guard !stack.isEmpty else { return value.node }
            stack[stack.count - 1].results.append(value)
        }
    }

    /// The frame that resolves `need`, or nil for a scalar with nothing to resolve.
    private mutating func frame(_ need: Need, viaReference: Bool) throws -> Frame? {
        let node = need.node
        switch node.content {
        case .list(let items):
            let needs = items.indices.map { Need(path: need.path + [String($0)], node: items[$0], reference: nil) }
            return Frame(path: need.path, node: node, viaReference: viaReference, needs: needs)
        case .map(let entries):
            let needs = entries.map { Need(path: need.path + [$0.key], node: $0.value, reference: nil) }
            return Frame(path: need.path, node: node, viaReference: viaReference, needs: needs)
        case .string(let text, _) where Interpolation.mayReference(text):
            let dotted = need.path.joined(separator: ".")
            let pieces = try Interpolation.split(text, at: node.location, path: dotted)
            var needs: [Need] = []
            for case .reference(let reference) in pieces {
                needs.append(try lookup(reference, at: node.location, path: dotted))
            }
            return Frame(path: need.path, node: node, viaReference: viaReference, needs: needs, pieces: pieces)
        default:
            return nil
        }
    }

    /// The path (`params.a.b`) and the written param `reference` names, or an error at `location`.
    private mutating func lookup(_ reference: String, at location: SourceLocation, path: String) throws -> Need {
        let segments = reference.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var current = params
        var walked = ["params"]
        for segment in segments.dropFirst() {
            let next: Node?
            switch current.content {
            case .map(let entries) where entries.count > 8:
                if keyIndexes[walked] == nil {
                    keyIndexes[walked] = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
                }
                next = keyIndexes[walked]![segment]
            case .map(let entries): next = entries.first { $0.key == segment }?.value
            case .list(let items): next = Int(segment).flatMap { items.indices.contains($0) ? items[$0] : nil }
            default: next = nil
            }
            guard let next else {
                let candidates = current.entries?.map { (walked + [$0.key]).joined(separator: ".") } ?? []
                throw RecipeError(location, path: path, "unresolved `${\(reference)}`: no `\(segment)` in `\(walked.joined(separator: "."))`",
                                  hint: Suggestions.hint(for: (walked + [segment]).joined(separator: "."), in: candidates)
                                    ?? "define it under `params:` or pass --set \(reference)=VALUE")
            }
            current = next
            walked.append(segment)
        }
        return Need(path: walked, node: current, reference: reference)
    }

    /// A reference back to a value still being resolved: the chain from it to here.
    private func cycle(at need: Need, stack: [Frame]) -> RecipeError {
        let top = stack.count - 1
        let start = stack.lastIndex { $0.path == need.path } ?? top
        let chain = stack.indices.filter { $0 >= start && ($0 == start || $0 == top || stack[$0].viaReference) }.map { stack[$0].path }
        let text = (chain + [need.path]).map { $0.joined(separator: ".") }.joined(separator: " -> ")
        return RecipeError(stack[top].node.location, path: stack[top].path.joined(separator: "."),
                           "`${\(need.reference ?? need.path.joined(separator: "."))}` refers to itself: \(text)")
    }

    /// The node of a frame whose needs are all resolved, checked against the limits.
    private func build(_ frame: Frame) throws -> Resolved {
        var node = frame.node
        var values = 1, textBytes = 0, depth = 0
        func add(_ child: Resolved) {
            values += child.values
            textBytes += child.textBytes
            depth = max(depth, child.depth)
        }
        switch node.content {
        case .list:
            frame.results.forEach(add)
            node.content = .list(frame.results.map(\.node))
        case .map(var entries):
            for i in entries.indices {
                add(frame.results[i])
                textBytes += entries[i].key.utf8.count
                entries[i].value = frame.results[i].node
            }
            node.content = .map(entries)
        default:
            if frame.pieces.count == 1, case .reference = frame.pieces[0] {
                var whole = frame.results[0]
                whole.node.location = node.location
                return try checked(whole, frame)
            }
            let text = try render(frame)
            node.content = .string(text, quoted: true)
            return try checked(Resolved(node: node, values: 1, textBytes: text.utf8.count, depth: 1), frame)
        }
        return try checked(Resolved(node: node, values: values, textBytes: textBytes, depth: depth + 1), frame)
    }

    /// A string's pieces joined, its references rendered as text; refused once it grows too long.
    private func render(_ frame: Frame) throws -> String {
        var out = ""
        var next = 0
        for piece in frame.pieces {
            switch piece {
            case .text(let literal): out += literal
            case .reference:
                out += frame.results[next].node.value.description
                next += 1
            }
            if out.utf8.count > RecipeLimits.maxTextBytes { throw tooLarge(frame, "more than \(RecipeLimits.maxTextBytes) bytes of text") }
        }
        return out
    }

    private func checked(_ value: Resolved, _ frame: Frame) throws -> Resolved {
        if value.values > RecipeLimits.maxValues { throw tooLarge(frame, "more than \(RecipeLimits.maxValues) values") }
        if value.textBytes > RecipeLimits.maxTextBytes { throw tooLarge(frame, "more than \(RecipeLimits.maxTextBytes) bytes of text") }
        if value.depth > RecipeLimits.maxDepth { throw tooLarge(frame, "lists and mappings nested deeper than \(RecipeLimits.maxDepth) levels") }
        return value
    }

    private func tooLarge(_ frame: Frame, _ what: String) -> RecipeError {
        let path = frame.path.joined(separator: ".")
        return RecipeError(frame.node.location, path: path, "\(path.isEmpty ? "the recipe" : "`\(path)`") holds \(what) once `${params…}` references are resolved",
                           hint: "a value that references another several times grows with each level; reference it less often")
    }
}
