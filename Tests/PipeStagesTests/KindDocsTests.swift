import Foundation
import PipeRecipe
@testable import PipeStages
import Testing

/// The kinds' reference pages are generated from their declarations (`make docs`).
struct KindDocsTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/kinds").path

    static func page(_ name: String) throws -> String {
        try String(contentsOfFile: docs + "/" + name + ".md", encoding: .utf8)
    }

    @Test(arguments: KindRegistry.builtIn.names)
    func committedPageMatchesTheDeclarations(_ name: String) throws {
        let kind = try #require(KindRegistry.builtIn.kind(name))
        let page = try Self.page(name)
        #expect(KindDocs.missingSections(in: page).isEmpty, "docs/kinds/\(name).md lacks generated sections; see docs/README.md")
        #expect(KindDocs.updated(page, for: kind) == page,
                "docs/kinds/\(name).md differs from the declarations in Sources/PipeStages: run `make docs` and commit the pages")
    }

    @Test func committedIndexMatchesTheDeclarations() throws {
        let page = try Self.page("README")
        #expect(page.contains("<!-- make docs: kinds -->"))
        #expect(KindDocs.updatedIndex(page, registry: .builtIn) == page,
                "docs/kinds/README.md differs from the declarations in Sources/PipeStages: run `make docs` and commit it")
    }

    @Test func aSectionIsReplacedBetweenItsMarkersAndTheRestIsKept() throws {
        let kind = ReportKind()
        let page = "# t\n\nintro\n<!-- make docs: options -->\nstale table\nmore\n<!-- end make docs -->\n\nprose after\n<!-- make docs: unknown -->\nkept\n"
        let updated = KindDocs.updated(page, for: kind)
        #expect(updated.hasPrefix("# t\n\nintro\n<!-- make docs: options -->\n"))
        #expect(updated.contains("| `title` | text | `\"\"` | any | the report's title (default: the recipe's name) |\n<!-- end make docs -->\n\nprose after\n"))
        #expect(!updated.contains("stale table"))
        #expect(updated.hasSuffix("<!-- make docs: unknown -->\nkept\n"), "a section it does not know is left alone")
        #expect(KindDocs.updated(updated, for: kind) == updated, "regenerating is idempotent")
        #expect(KindDocs.missingSections(in: page) == ["inputs", "outputs"])
    }

    @Test func optionRowsShowTypeDefaultRangeAndGroups() throws {
        let rows = KindDocs.rows(try #require(GRPOKind().schema))
        let steps = try #require(rows.first { $0.name == "steps" })
        #expect(steps == KindDocs.Row(name: "steps", type: "integer", defaultValue: "100", range: "1 to 1,000,000", help: "optimizer steps"))
        #expect(rows.first { $0.name == "lr" }?.defaultValue == "1e-4")
        #expect(rows.first { $0.name == "adam_epsilon" }?.defaultValue == "1e-8")
        #expect(rows.first { $0.name == "grad_clip" }?.range == "0 to 1e6")
        #expect(rows.first { $0.name == "loss_type" }?.range == "grpo | bnpo | dr_grpo | dapo")
        #expect(rows.suffix(3).map(\.name) == ["eval", "eval.limit", "eval.max_new_tokens"])
        let smooth = KindDocs.rows(try #require(SmoothKind().schema))
        #expect(smooth.first { $0.name == "criterion" }.map { [$0.type, $0.defaultValue, $0.range] }
                == ["one of", "{certified_accuracy_at: 0.25}", "{certified_accuracy_at: number} | mean_radius"])
        #expect(smooth.first { $0.name == "sigmas" }?.defaultValue == "[0.12, 0.25, 0.5]")
    }

    @Test func terminalDescriptionListsInputsOutputsAndOptions() throws {
        let text = KindDocs.describe(GRPOKind())
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "grpo (version 7): Group Relative Policy Optimization (Med-R1) with format and accuracy rewards and a KL penalty")
        #expect(lines.contains("inputs:") && lines.contains("outputs:") && lines.contains("options (with:):"))
        #expect(lines.contains { $0.hasPrefix("  dataset  required  an unpack stage") })
        #expect(lines.contains("  NAME                  TYPE     DEFAULT  RANGE"))
        #expect(lines.contains("  steps                 integer  100      1 to 1,000,000"))
        #expect(lines.contains("      optimizer steps"))
        #expect(KindDocs.describe(CommandKind()).contains("free-form"))
    }

    @Test func listingHasOneLinePerKind() {
        let lines = KindDocs.listing(.builtIn).split(separator: "\n")
        #expect(lines.count == KindRegistry.builtIn.names.count)
        #expect(lines.map { String($0.split(separator: " ")[0]) } == KindRegistry.builtIn.names)
    }
}
