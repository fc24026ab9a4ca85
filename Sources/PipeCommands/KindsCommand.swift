import ArgumentParser
import Foundation
import PipeRecipe
import PipeStages

/// `pipe kinds [KIND]`: the built-in stage kinds, one line each, or one kind's options, inputs and
/// outputs. `--write-docs DIR` (hidden, `make docs`) rewrites the generated sections of `DIR/*.md`.
struct KindsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinds", abstract: "List the built-in stage kinds, or show one kind's options, inputs and outputs.")

    @Argument(help: "A kind, e.g. grpo (default: list them all).") var kind: String?
    @Option(name: .customLong("write-docs"), help: .hidden) var docsDirectory: String?

    func run() throws {
        let registry = KindRegistry.builtIn
        if let docsDirectory {
            try Self.writeDocs(into: docsDirectory, registry: registry)
            return
        }
        guard let name = kind else {
            print(KindDocs.listing(registry))
            return
        }
        guard let found = registry.kind(name) else {
            throw UsageError("unknown kind `\(name)`",
                             hint: Suggestions.hint(for: name, in: registry.names).map { "\($0) (`pipe kinds` lists them)" } ?? "`pipe kinds` lists them")
        }
        print(KindDocs.describe(found))
    }

    /// Regenerates the marked sections of each kind's page and of the index, in place; a page
    /// without its markers is an error (nothing is written then).
    static func writeDocs(into directory: String, registry: KindRegistry) throws {
        var pages: [(path: String, text: String)] = []
        for kind in registry.all {
            let path = directory + "/" + kind.name + ".md"
            let page = try InputFile.text(path, what: "kind page", hint: "run `make docs` from the repository's root")
            let missing = KindDocs.missingSections(in: page)
            guard missing.isEmpty else {
                throw UsageError("\(path): no `<!-- make docs: \(missing[0]) -->` marker",
                                 hint: "each kind page marks its generated sections \(KindDocs.sections.joined(separator: ", ")), each ended by `<!-- end make docs -->`")
            }
            pages.append((path, KindDocs.updated(page, for: kind)))
        }
        let index = directory + "/README.md"
        pages.append((index, KindDocs.updatedIndex(try InputFile.text(index, what: "kinds index", hint: "run `make docs` from the repository's root"),
                                                   registry: registry)))
        for (path, text) in pages {
            guard (try? String(contentsOfFile: path, encoding: .utf8)) != text else { continue }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            print("wrote \(path)")
        }
    }
}
