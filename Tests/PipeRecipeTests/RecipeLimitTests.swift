import Foundation
import PipeRecipe
import Testing

/// Hostile recipes, experiments and overrides: refused with a located message, quickly, never a crash.
struct RecipeLimitTests {
    static let kinds = ["command"]

    /// A recipe with `params` written as given and one stage that echoes `echo`.
    static func recipe(params: String, echo: String = "hi") -> String {
        "pipe: 1\nname: t\nparams:\n\(params)stages:\n  a:\n    kind: command\n    command: echo \(echo)\n"
    }

    func parse(_ text: String, sets: [String] = []) throws -> Recipe {
        try Recipe.parse(text, file: "r.yaml", overrides: try sets.map(Override.init(parsing:)), kinds: Self.kinds)
    }

    func error(_ text: String, sets: [String] = []) throws -> RecipeError {
        try #require(throws: RecipeError.self) { _ = try parse(text, sets: sets) }
    }

    // MARK: YAML size and depth

    /// The billion laughs: each level an alias list of nine of the one before.
    static func aliasBomb(levels: Int) -> String {
        var lines = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...levels {
            lines.append("  l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ") + "]")
        }
        return recipe(params: lines.joined(separator: "\n") + "\n")
    }

    @Test func anAliasBombIsRefusedAtTheValueThatCrossesTheLimit() throws {
        let error = try error(Self.aliasBomb(levels: 9))
        #expect(error.message == "more than 100000 values (counting each use of an alias `*name` in full)")
        // Where the walk of the text had got to: the list whose aliases cross the limit.
        #expect(error.location == SourceLocation(file: "r.yaml", line: 9, column: 7))
        #expect(error.description.contains("hint: a recipe is small"))
        // A few aliases are fine.
        let small = try parse(Self.aliasBomb(levels: 2))
        let lols = Value.list(Array(repeating: .string("lol"), count: 9))
        #expect(small.params["l2"]?.value == .list(Array(repeating: .list(Array(repeating: lols, count: 9)), count: 9)))
    }

    @Test(arguments: [
        ("flow lists", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), 4),
        ("flow mappings", String(repeating: "{a: ", count: 100_000) + "1" + String(repeating: "}", count: 100_000), 4),
        ("block lists", "\n    " + String(repeating: "- ", count: 100_000) + "x", 5),
        ("unclosed", String(repeating: "[", count: 100_000), 4),
        ("just past the limit", String(repeating: "[", count: 64) + String(repeating: "]", count: 64), 4),
    ])
    func deepNestingIsRefused(name: String, nest: String, line: Int) throws {
        let error = try error(Self.recipe(params: "  deep: " + nest + "\n"))
        #expect(error.message == "lists and mappings nested deeper than 64 levels", "\(name)")
        #expect(error.location.file == "r.yaml" && error.location.line == line, "\(name)")
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        // The document, `params` and `deep` are three levels.
        let nest = String(repeating: "[", count: 61) + "1" + String(repeating: "]", count: 61)
        let recipe = try parse(Self.recipe(params: "  deep: " + nest + "\n"))
        #expect(recipe.params["deep"]?.value.json == nest)
    }

    // MARK: ${params} references

    /// `p0: x`, `p1: ${params.p0}`, ... : each link a whole-value reference.
    static func chain(_ length: Int, link: (Int) -> String) -> String {
        recipe(params: "  p0: x\n" + (1..<length).map { "  p\($0): \(link($0))\n" }.joined(), echo: "${params.p\(length - 1)}")
    }

    @Test func aLongChainResolvesWithoutRecursion() throws {
        let recipe = try parse(Self.chain(2_000) { "${params.p\($0 - 1)}" })
        #expect(recipe.stages[0].command == "echo x")
        #expect(recipe.params["p1999"]?.value == .string("x"))
        let text = try parse(Self.chain(2_000) { "\"${params.p\($0 - 1)}.\"" })
        #expect(text.stages[0].command == "echo x" + String(repeating: ".", count: 1_999))
    }

    @Test func aDoublingTextChainIsRefusedNamingTheParam() throws {
        let error = try error(Self.chain(64) { "\"${params.p\($0 - 1)}${params.p\($0 - 1)}\"" })
        #expect(error.path == "params.p23")
        #expect(error.message == "`params.p23` holds more than 4194304 bytes of text once `${params…}` references are resolved")
        #expect(error.location.line == 27)
    }

    @Test func aDoublingListChainIsRefusedNamingTheParam() throws {
        let error = try error(Self.chain(64) { "[\"${params.p\($0 - 1)}\", \"${params.p\($0 - 1)}\"]" })
        #expect(error.path == "params.p16")
        #expect(error.message == "`params.p16` holds more than 100000 values once `${params…}` references are resolved")
    }

    @Test func aNestingChainIsRefusedAtTheDepthLimit() throws {
        let error = try error(Self.chain(2_000) { "[\"${params.p\($0 - 1)}\"]" })
        #expect(error.path == "params.p64")
        #expect(error.message == "`params.p64` holds lists and mappings nested deeper than 64 levels once `${params…}` references are resolved")
    }

    @Test func oneValueUsedOftenStillCountsEveryUse() throws {
        // 200 references to a 1,000-value list: each use is a copy in the resolved recipe.
        let list = "[" + (0..<1_000).map(String.init).joined(separator: ", ") + "]"
        let uses = (0..<200).map { "      u\($0): ${params.big}\n" }.joined()
        let text = "pipe: 1\nname: t\nparams:\n  big: \(list)\nstages:\n  a:\n    kind: command\n    command: echo\n    with:\n" + uses
        let error = try error(text)
        #expect(error.path == "stages.a.with")
        #expect(error.message == "`stages.a.with` holds more than 100000 values once `${params…}` references are resolved")
    }

    @Test(arguments: [
        ("  a: ${params.b}\n  b: ${params.a}\n", "r.yaml:5:6: error: params.b: `${params.a}` refers to itself: params.a -> params.b -> params.a"),
        ("  a: {b: \"${params.a}\"}\n", "r.yaml:4:10: error: params.a.b: `${params.a}` refers to itself: params.a -> params.a.b -> params.a"),
        ("  a: [\"x ${params}\"]\n", "r.yaml:4:7: error: params.a.0: `${params}` refers to itself: params -> params.a.0 -> params"),
    ])
    func cyclesNameTheirChain(params: String, expected: String) throws {
        #expect(try error(Self.recipe(params: params)).description == expected)
    }

    @Test func referencesIntoAReferencedMappingShareItsResolution() throws {
        let recipe = try parse(Self.recipe(params: "  base: {lr: 0.1, name: \"run-${params.base.lr}\"}\n  copy: ${params.base}\n",
                                           echo: "${params.base.name} $${HOME}"))
        #expect(recipe.stages[0].command == "echo run-0.1 ${HOME}")
        #expect(recipe.params["copy"]?.value == .map([("lr", .double(0.1)), ("name", .string("run-0.1"))]))
    }

    // MARK: Overrides

    @Test func tooManyOverridesAreRefusedCountingThem() throws {
        let sets = (0..<1_500).map { "stages.a.with.k\($0)=\($0)" }
        let error = try error(Self.recipe(params: "  x: 1\n"), sets: sets)
        #expect(error.description == "--set stages.a.with.k1000=1000: error: 1500 overrides, more than the limit of 1000\n  hint: change the recipe itself, or split the overrides over several recipes")
        #expect(try parse(Self.recipe(params: "  x: 1\n"), sets: Array(sets.prefix(1_000))).stages[0].with.entries?.count == 1_000)
    }

    @Test func aVeryLongOverridePathIsRefused() throws {
        let path = "stages.a.with." + Array(repeating: "k", count: 100_000).joined(separator: ".")
        let error = try error(Self.recipe(params: "  x: 1\n"), sets: [path + "=1"])
        #expect(error.message == "a path of 100003 keys, more than the limit of 64")
    }

    // MARK: Ablation grids

    static func experiment(axes: Int, values: Int, seeds: Int = 0) -> String {
        var text = "recipe: r.yaml\ngrid:\n"
        for axis in 0..<axes { text += "  params.a\(axis): [" + (0..<values).map(String.init).joined(separator: ", ") + "]\n" }
        if seeds > 0 { text += "seeds: [" + (1...seeds).map(String.init).joined(separator: ", ") + "]\n" }
        return text
    }

    @Test(arguments: [
        (6, 10, 0, "the grid asks for 1000000 variants (10 params.a0 x 10 params.a1 x 10 params.a2 x 10 params.a3 x 10 params.a4 x 10 params.a5), more than the limit of 1000"),
        (1, 2, 2_000, "the grid asks for 4000 variants (2 params.a0 x 2000 seeds), more than the limit of 1000"),
        (20, 10, 0, "the grid asks for more than 9223372036854775807 variants"),
    ])
    func largeGridsAreRefusedBeforeAnyVariantIsBuilt(axes: Int, values: Int, seeds: Int, message: String) throws {
        let experiment = try Experiment.parse(Self.experiment(axes: axes, values: values, seeds: seeds), file: "x.yaml")
        let error = try #require(throws: RecipeError.self) { _ = try experiment.checkedVariants() }
        #expect(error.message.hasPrefix(message), "\(error.message)")
        #expect(error.location == SourceLocation(file: "x.yaml", line: 3, column: 3))
    }

    @Test func gridsUpToTheLimitAreBuilt() throws {
        let experiment = try Experiment.parse(Self.experiment(axes: 3, values: 10), file: "x.yaml")
        #expect(experiment.variantCount == 1_000)
        #expect(try experiment.checkedVariants().count == 1_000)
    }

    // MARK: Text that is not UTF-8

    @Test func bytesThatAreNotUTF8AreLocated() throws {
        var bytes = Array("pipe: 1\nname: caf\u{e9}".utf8)
        bytes += [0xff, 0x0a]
        let error = try #require(throws: RecipeError.self) { _ = try SourceText.decode(Data(bytes), file: "r.yaml") }
        #expect(error.description == "r.yaml:2:11: error: not UTF-8 text: byte 0xFF at offset 19\n  hint: save the file as UTF-8")
        let truncated = try #require(throws: RecipeError.self) { _ = try SourceText.decode(Data([0x61, 0xe2, 0x82]), file: "r.yaml") }
        #expect(truncated.description.hasPrefix("r.yaml:1:2: error: not UTF-8 text: byte 0xE2 at offset 1"))
        #expect(try SourceText.decode(Data("pipe: 1\n".utf8), file: "r.yaml") == "pipe: 1\n")
    }
}
