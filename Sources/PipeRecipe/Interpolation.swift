/// Resolves `${params.path}` references (OmegaConf style).
///
/// A string that is exactly one reference takes the referenced value with its type; a reference
/// inside other text is rendered as text. `$${` writes a literal `${`. Any other `${...}` (such as
/// `${HOME}` in a shell command) is left as it is.
enum Interpolation {
    static func resolve(_ root: Node) throws -> Node {
        let params = root["params"] ?? Node(.map([]), at: root.location)
        var resolver = Resolver(params: params)
        return try resolver.resolve(root, path: "")
    }

    private struct Resolver {
        let params: Node
        var visiting: [String] = []

        mutating func resolve(_ node: Node, path: String) throws -> Node {
            var node = node
            switch node.content {
            case .string(let text, _):
                return try resolveString(text, node: node, path: path)
            case .list(var items):
                for i in items.indices { items[i] = try resolve(items[i], path: join(path, String(i))) }
                node.content = .list(items)
            case .map(var entries):
                for i in entries.indices {
                    entries[i].value = try resolve(entries[i].value, path: join(path, entries[i].key))
                }
                node.content = .map(entries)
            default:
                break
            }
            return node
        }

        private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        /// Whether `text` contains `${` (a byte scan: most strings have no `$` at all).
        static func mayReference(_ text: String) -> Bool {
            var previousWasDollar = false
            for byte in text.utf8 {
                if previousWasDollar && byte == UInt8(ascii: "{") { return true }
                previousWasDollar = byte == UInt8(ascii: "$")
            }
            return false
        }

        private mutating func resolveString(_ text: String, node: Node, path: String) throws -> Node {
            guard Self.mayReference(text) else { return node }
            let pieces = try Self.split(text, at: node.location, path: path)
            if pieces.count == 1, case .reference(let reference) = pieces[0] {
                var value = try lookup(reference, at: node.location, path: path)
                value.location = node.location
                return value
            }
            var out = ""
            for piece in pieces {
                switch piece {
                case .text(let literal): out += literal
                case .reference(let reference):
                    out += try lookup(reference, at: node.location, path: path).value.description
                }
            }
            var result = node
            result.content = .string(out, quoted: true)
            return result
        }

        private mutating func lookup(_ reference: String, at location: SourceLocation, path: String) throws -> Node {
            let segments = reference.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            var current = params
            var walked = ["params"]
            for segment in segments.dropFirst() {
                let next: Node?
                switch current.content {
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
            guard !visiting.contains(reference) else {
                throw RecipeError(location, path: path, "`${\(reference)}` refers to itself: "
                                  + (visiting + [reference]).joined(separator: " -> "))
            }
            visiting.append(reference)
            defer { visiting.removeLast() }
            return try resolve(current, path: reference)
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
    }
}
