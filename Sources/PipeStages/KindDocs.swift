import Foundation
import PipeRecipe

/// The reference of the built-in kinds, rendered from their declarations: one line per kind
/// (`pipe kinds`), one kind's options, inputs and outputs for a terminal (`pipe kinds KIND`), and
/// the generated sections of its page in `docs/kinds/` (`make docs`).
public enum KindDocs {
    /// One row of an options table: a group's options follow it with dotted names.
    public struct Row: Equatable, Sendable {
        public var name: String
        public var type: String
        public var defaultValue: String
        public var range: String
        public var help: String
    }

    /// The rows of `schema`, groups flattened (`eval`, then `eval.limit`, ...).
    public static func rows(_ schema: OptionSchema, prefix: String = "") -> [Row] {
        schema.options.flatMap { option -> [Row] in
            let name = prefix + option.name
            let row = Row(name: name, type: typeName(option.type), defaultValue: option.defaultValue.map { defaultText($0, type: option.type) } ?? "",
                          range: range(option.type), help: option.help)
            switch option.type {
            case .group(let inner): return [row] + rows(inner, prefix: name + ".")
            case .oneOf(let variants):
                // A variant's own options follow with dotted names (`model.config.layers`).
                return [row] + variants.flatMap { variant -> [Row] in
                    guard case .group(let inner)? = variant.type else { return [] }
                    return rows(inner, prefix: name + "." + variant.name + ".")
                }
            default: return [row]
            }
        }
    }

    static func typeName(_ type: OptionSchema.OptionType) -> String {
        switch type {
        case .int: return "integer"
        case .number: return "number"
        case .bool: return "boolean"
        case .text: return "text"
        case .textList: return "list of text"
        case .numberList: return "list of numbers"
        case .path: return "path"
        case .group: return "group"
        case .oneOf: return "one of"
        }
    }

    static func range(_ type: OptionSchema.OptionType) -> String {
        switch type {
        case .int(let r): return "\(bound(r.lowerBound)) to \(bound(r.upperBound))"
        case .number(let r): return "\(number(r.lowerBound)) to \(number(r.upperBound))"
        case .numberList(let r): return "each \(number(r.lowerBound)) to \(number(r.upperBound))"
        case .text(let choices?), .textList(let choices?): return choices.joined(separator: " | ")
        case .text(nil), .textList(nil): return "any"
        case .path: return "a local file, relative to the recipe"
        case .bool, .group: return ""
        case .oneOf(let variants):
            return variants.map { variant in variant.type.map { "{\(variant.name): \(typeName($0))}" } ?? variant.name }.joined(separator: " | ")
        }
    }

    /// A default as a recipe would write it; a variant whose options are all at their defaults as `{NAME: {}}`.
    static func defaultText(_ value: Value, type: OptionSchema.OptionType) -> String {
        if case .oneOf = type, case .map(let entries) = value, entries.count == 1, case .map = entries[0].1 { return "{\(entries[0].0): {}}" }
        return text(value)
    }

    static func bound(_ i: Int) -> String { i == Int.max ? "no limit" : grouped(i) }

    /// A value as a recipe would write it.
    static func text(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return grouped(i)
        case .double(let d): return number(d)
        case .string(let s): return s.isEmpty ? "\"\"" : s
        case .list(let items): return "[" + items.map(text).joined(separator: ", ") + "]"
        case .map(let entries): return "{" + entries.map { "\($0.0): \(text($0.1))" }.joined(separator: ", ") + "}"
        }
    }

    /// `1000000` as `1,000,000` (an integer bound), a fraction as `%g` with a short exponent (`1e-8`).
    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e6 { return grouped(Int(d)) }
        var s = d != 0 && abs(d) < 1e-3 ? String(format: "%.6e", d) : String(format: "%.6g", d)
        if let e = s.firstIndex(of: "e"), s[..<e].contains(".") {
            // 1.000000e-04 -> 1e-04
            var mantissa = String(s[..<e])
            while mantissa.hasSuffix("0") { mantissa.removeLast() }
            if mantissa.hasSuffix(".") { mantissa.removeLast() }
            s = mantissa + s[e...]
        }
        for (long, short) in [("e-0", "e-"), ("e+0", "e"), ("e+", "e")] { s = s.replacingOccurrences(of: long, with: short) }
        return s
    }

    static func grouped(_ i: Int) -> String {
        let digits = String(i.magnitude)
        guard digits.count > 4 else { return String(i) }
        var out = ""
        for (k, c) in digits.enumerated() {
            if k > 0, (digits.count - k) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (i < 0 ? "-" : "") + out
    }

    // MARK: - Terminal

    /// `pipe kinds`: one line per kind.
    public static func listing(_ registry: KindRegistry) -> String {
        let width = registry.names.map(\.count).max() ?? 0
        return registry.all.map { $0.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n")
    }

    /// `pipe kinds KIND`: the kind's summary, inputs, outputs and options.
    public static func describe(_ kind: any StageKind) -> String {
        var lines = ["\(kind.name) (version \(kind.version)): \(kind.summary)", "", "inputs:"]
        lines += columns(kind.inputs.map { [$0.role, $0.required ? "required" : "optional", $0.description] }, indent: "  ")
        if kind.inputs.isEmpty { lines.append("  none") }
        lines += ["", "outputs:"] + columns(kind.outputs.map { [$0.file, $0.what] }, indent: "  ")
        lines += ["", "options (with:):"]
        guard let schema = kind.schema else {
            lines.append("  free-form: the stage's `with` reaches the command as JSON in the file $PIPE_PARAMS names")
            return lines.joined(separator: "\n")
        }
        let rows = rows(schema)
        let table = columns([["NAME", "TYPE", "DEFAULT", "RANGE"]] + rows.map { [$0.name, $0.type, $0.defaultValue, $0.range] }, indent: "  ")
        lines.append(table[0])
        for (row, line) in zip(rows, table.dropFirst()) { lines += [line, "      " + row.help] }
        if let torch = kind.torchOptions {
            lines += ["", "with backend: torch, these replace `model` (the other options are the same):"]
            let torchRows = Self.rows(torch)
            let torchTable = columns([["NAME", "TYPE", "DEFAULT", "RANGE"]] + torchRows.map { [$0.name, $0.type, $0.defaultValue, $0.range] }, indent: "  ")
            lines.append(torchTable[0])
            for (row, line) in zip(torchRows, torchTable.dropFirst()) { lines += [line, "      " + row.help] }
        }
        return lines.joined(separator: "\n")
    }

    /// Rows of cells with every column but the last padded to its widest cell.
    static func columns(_ rows: [[String]], indent: String) -> [String] {
        guard let count = rows.first?.count else { return [] }
        let widths = (0..<count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            let padded = cells.enumerated().map { k, cell in k == count - 1 ? cell : cell.padding(toLength: widths[k], withPad: " ", startingAt: 0) }
            var line = indent + padded.joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }

    // MARK: - Markdown

    /// The sections `make docs` writes into a kind's page, between `<!-- make docs: NAME -->` and `<!-- end make docs -->`.
    public static let sections = ["inputs", "outputs", "options"]

    static func startMarker(_ section: String) -> String { "<!-- make docs: \(section) -->" }
    static let endMarker = "<!-- end make docs -->"

    /// A generated section of `kind`'s page.
    public static func markdown(_ section: String, of kind: any StageKind) -> String {
        switch section {
        case "inputs":
            guard !kind.inputs.isEmpty else { return "None." }
            return kind.inputs.map { "- `\($0.role)` (\($0.required ? "required" : "optional")): \(sentence($0.description))" }.joined(separator: "\n")
        case "outputs":
            return kind.outputs.map { "- `\($0.file)`: \(sentence($0.what))" }.joined(separator: "\n")
        default:
            return optionsMarkdown(kind)
        }
    }

    /// `text` ending with a full stop (once).
    static func sentence(_ text: String) -> String { text.hasSuffix(".") ? text : text + "." }

    static func optionsMarkdown(_ kind: any StageKind) -> String {
        guard let schema = kind.schema else {
            return "Free-form: a command stage's `with:` is not checked; it reaches the command as JSON in the file `$PIPE_PARAMS` names, "
                + "and enters the cache key as written. The kind's implementation version is \(kind.version)."
        }
        let intro = """
            Generated from the kind's declarations (`pipe kinds \(kind.name)` prints the same). A stage's `with:` is checked \
            against them before anything runs (an unknown option gets a "did you mean", a wrong type or a value out of range an \
            error at its line and column), and the defaults are filled in and enter the cache key. `null` means the option has no \
            value of its own (the help says what stands in for it); a group's options follow it with dotted names. The kind's \
            implementation version is \(kind.version): a change of it re-runs the kind's stages.
            """
        var text = intro + "\n\n" + optionsTable(schema)
        if let torch = kind.torchOptions {
            text += "\n\nOn the torch backend (`backend: torch`, [the torch backend](../torch-backend.md)) these options replace `model` "
                + "above; the others are the same, with the same defaults:\n\n" + optionsTable(torch)
        }
        return text
    }

    /// An options table in Markdown.
    static func optionsTable(_ schema: OptionSchema) -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
        func code(_ s: String) -> String { s.isEmpty ? "" : "`\(s)`" }
        let table = ["| option | type | default | range | what |", "| --- | --- | --- | --- | --- |"] + rows(schema).map { row in
            let range = row.type == "group" ? "below" : cell(row.range.split(separator: "|").map { code($0.trimmingCharacters(in: .whitespaces)) }
                .joined(separator: " | "))
            let plainRange = row.type == "group" || row.range.contains("|") ? range : cell(row.range)
            return "| `\(row.name)` | \(row.type) | \(cell(code(row.defaultValue))) | \(plainRange) | \(cell(row.help)) |"
        }
        return table.joined(separator: "\n")
    }

    /// The sections `page` has no markers for.
    public static func missingSections(in page: String) -> [String] {
        sections.filter { !page.contains(startMarker($0)) }
    }

    /// `page` with each marked section replaced by what the declarations of `kind` give.
    public static func updated(_ page: String, for kind: any StageKind) -> String {
        replacingSections(page) { section in sections.contains(section) ? markdown(section, of: kind) : nil }
    }

    /// The index page of the kinds (`docs/kinds/README.md`) with its `kinds` section regenerated.
    public static func updatedIndex(_ page: String, registry: KindRegistry) -> String {
        replacingSections(page) { section in
            guard section == "kinds" else { return nil }
            return (["| kind | does | page |", "| --- | --- | --- |"] + registry.all.map {
                "| `\($0.name)` | \($0.summary.replacingOccurrences(of: "|", with: "\\|")) | [\($0.name).md](\($0.name).md) |"
            }).joined(separator: "\n")
        }
    }

    /// Replaces the text between each start marker (whose section `generate` knows) and the next end marker.
    static func replacingSections(_ page: String, _ generate: (String) -> String?) -> String {
        var out: [Substring] = []
        var skipping = false
        for line in page.split(separator: "\n", omittingEmptySubsequences: false) {
            if skipping {
                guard line == endMarker else { continue }
                skipping = false
            }
            out.append(line)
            let prefix = "<!-- make docs: ", suffix = " -->"
            if line.hasPrefix(prefix), line.hasSuffix(suffix), line != endMarker,
               let generated = generate(String(line.dropFirst(prefix.count).dropLast(suffix.count))) {
                out.append(Substring(generated))
                skipping = true
            }
        }
        if skipping { out.append(Substring(endMarker)) }
        return out.joined(separator: "\n")
    }
}
