import PipeRecipe
import Testing

/// `${params.…}` interpolation, `--set` overrides and scalar typing.
struct InterpolationTests {
    static let recipe = """
        pipe: 1
        name: t
        seed: 7
        params:
          reasoning: cot
          lr: 1e-4
          sizes: [8, 16]
          nested: {depth: 2}
          derived: run-${params.reasoning}
          flag: yes
        stages:
          train:
            kind: command
            command: echo ${params.reasoning} $${HOME} ${HOME} ${params.lr}
            env: {SIZE: "${params.nested.depth}"}
            with:
              lr: ${params.lr}
              sizes: "${params.sizes}"
              name: ${params.derived}
              label: "n=${params.sizes}"
              flag: ${params.flag}
        """

    func parse(_ sets: [String] = []) throws -> Recipe {
        try Recipe.parse(Self.recipe, file: "r.yaml", overrides: try sets.map(Override.init(parsing:)), kinds: ["command"])
    }

    @Test func wholeValueReferenceKeepsItsType() throws {
        let with = try parse().stages[0].with.value
        #expect(with["lr"] == .double(0.0001))
        #expect(with["sizes"] == .list([.int(8), .int(16)]))
        #expect(with["name"] == .string("run-cot"))
        #expect(with["label"] == .string("n=[8,16]"))
        // YAML 1.2 core schema: `yes` is text, not a boolean.
        #expect(with["flag"] == .string("yes"))
    }

    @Test func textReferencesRenderAndOtherDollarsAreLeftForTheShell() throws {
        let stage = try parse().stages[0]
        #expect(stage.command == "echo cot ${HOME} ${HOME} 0.0001")
        #expect(stage.env.map(\.value) == ["2"])
    }

    @Test func overridesAreTypedAndReachParamsAndStageFields() throws {
        let recipe = try parse(["params.reasoning=instruct", "params.lr=3e-4", "stages.train.with.epochs=3",
                                "stages.train.seed=11", "params.sizes=[1, 2, 3]"])
        let with = recipe.stages[0].with.value
        #expect(with["name"] == .string("run-instruct"))
        #expect(with["lr"] == .double(0.0003))
        #expect(with["epochs"] == .int(3))
        #expect(with["sizes"] == .list([.int(1), .int(2), .int(3)]))
        #expect(recipe.stages[0].seed == 11)
        #expect(recipe.seed(for: recipe.stages[0]) == 11)
    }

    @Test func quotedOverrideStaysText() throws {
        let recipe = try parse(["stages.train.with.epochs=\"3\""])
        #expect(recipe.stages[0].with.value["epochs"] == .string("3"))
    }

    @Test func derivedSeedsDependOnRecipeSeedAndStageNameOnly() {
        let a = Recipe.deriveSeed(recipeSeed: 7, stageName: "train")
        #expect(a == Recipe.deriveSeed(recipeSeed: 7, stageName: "train"))
        #expect(a != Recipe.deriveSeed(recipeSeed: 8, stageName: "train"))
        #expect(a != Recipe.deriveSeed(recipeSeed: 7, stageName: "eval"))
        #expect(a >= 0 && a < 1 << 31)
    }

    @Test(arguments: [
        ("3", Value.int(3)), ("-3", .int(-3)), ("3.0", .double(3)), ("1e-4", .double(0.0001)), (".5", .double(0.5)),
        ("true", .bool(true)), ("False", .bool(false)), ("null", .null), ("~", .null), ("yes", .string("yes")),
        ("0x1f", .int(31)), ("1.2.3", .string("1.2.3")), ("3e", .string("3e")), ("-", .string("-")),
    ])
    func coreSchemaScalars(text: String, expected: Value) {
        let node = Node(YAMLReader.resolve(plain: text), at: SourceLocation(file: "x", line: 1, column: 1))
        #expect(node.value == expected)
    }
}
