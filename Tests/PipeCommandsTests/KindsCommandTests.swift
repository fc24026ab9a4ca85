import Foundation
import PipeTestSupport
import Testing

/// `pipe kinds`: the built-in kinds, one kind's reference, and the docs it writes for `make docs`.
struct KindsCommandTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/kinds").path
    static let kinds = ["at-grpo", "command", "evaluate", "grpo", "report", "sft", "smooth", "synth", "unpack"]

    @Test func listsEveryKindOnOneLine() throws {
        let scratch = try TemporaryDirectory("kinds")
        let result = try PipeBinary.run(["kinds"], in: scratch.path)
        #expect(result.status == 0 && result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.map { String($0.split(separator: " ")[0]) } == Self.kinds)
        #expect(lines.contains { $0.hasPrefix("grpo      Group Relative Policy Optimization") })
    }

    @Test func showsOneKindsOptionsInputsAndOutputs() throws {
        let scratch = try TemporaryDirectory("kinds")
        let result = try PipeBinary.run(["kinds", "smooth"], in: scratch.path)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first?.hasPrefix("smooth (version 3): ") == true)
        #expect(lines.contains("  policy   required  an sft, grpo or at-grpo stage"))
        #expect(lines.contains("  smoothing.json     the chosen sigma, n0, n, alpha, and every candidate's certified accuracy"))
        #expect(lines.contains("  n                      integer          100,000                         1 to 100,000,000"),
                "\(result.stdout)")
        #expect(lines.contains("      CERTIFY's estimation samples per record"))
        #expect(lines.contains { $0.hasPrefix("  finetune.lr ") && $0.contains("1e-4") })
    }

    @Test(arguments: [
        ("grpp", "did you mean `grpo`?"),
        ("trainer", "expected one of: `at-grpo`, `command`"),
    ])
    func anUnknownKindIsAUsageErrorWithAHint(_ name: String, _ hint: String) throws {
        let scratch = try TemporaryDirectory("kinds")
        let result = try PipeBinary.run(["kinds", name], in: scratch.path)
        #expect(result.status == 2 && result.stdout.isEmpty)
        #expect(result.stderr.contains("error: unknown kind `\(name)`\n  hint: \(hint)"), "\(result.stderr)")
    }

    /// A copy of docs/kinds with one stale table and one stale index is rewritten to the committed pages.
    @Test func writeDocsRegeneratesStaleSectionsOnly() throws {
        let scratch = try TemporaryDirectory("kinds")
        for name in Self.kinds + ["README"] {
            var page = try String(contentsOfFile: Self.docs + "/\(name).md", encoding: .utf8)
            if name == "grpo" { page = page.replacingOccurrences(of: "| `steps` | integer | `100` |", with: "| `steps` | integer | `50` |") }
            if name == "README" { page = page.replacingOccurrences(of: "[grpo.md](grpo.md)", with: "[old.md](old.md)") }
            try page.write(toFile: scratch.path + "/\(name).md", atomically: true, encoding: .utf8)
        }
        let result = try PipeBinary.run(["kinds", "--write-docs", scratch.path], in: scratch.path)
        #expect(result.status == 0)
        #expect(result.stdout == "wrote \(scratch.path)/grpo.md\nwrote \(scratch.path)/README.md\n")
        for name in Self.kinds + ["README"] {
            #expect(scratch.read("\(name).md") == (try String(contentsOfFile: Self.docs + "/\(name).md", encoding: .utf8)), "\(name)")
        }
    }

    @Test func writeDocsRefusesAPageWithoutItsMarkersAndWritesNothing() throws {
        let scratch = try TemporaryDirectory("kinds")
        for name in Self.kinds + ["README"] {
            var page = try String(contentsOfFile: Self.docs + "/\(name).md", encoding: .utf8)
            if name == "grpo" { page = page.replacingOccurrences(of: "| `steps` | integer | `100` |", with: "| `steps` | integer | `50` |") }
            if name == "sft" { page = page.replacingOccurrences(of: "<!-- make docs: outputs -->", with: "") }
            try page.write(toFile: scratch.path + "/\(name).md", atomically: true, encoding: .utf8)
        }
        let before = scratch.read("grpo.md")
        let result = try PipeBinary.run(["kinds", "--write-docs", scratch.path], in: scratch.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: \(scratch.path)/sft.md: no `<!-- make docs: outputs -->` marker"), "\(result.stderr)")
        #expect(scratch.read("grpo.md") == before, "nothing is written when a page is refused")
    }
}
