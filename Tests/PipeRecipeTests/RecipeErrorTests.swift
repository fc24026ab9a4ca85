import PipeRecipe
import Testing

/// Every kind of recipe error, with its message and location.
struct RecipeErrorTests {
    static let kinds = ["command", "sft", "synth"]

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var sets: [String] = []
        /// The expected `description`: `file:line:column: error: path: message` (and hint).
        var expected: String
        var testDescription: String { name }
    }

    static let valid = """
        pipe: 1
        name: t
        params:
          lr: 0.001
        stages:
          a:
            kind: command
            command: echo a
          b:
            kind: command
            inputs: {up: a}
            command: echo b
        """

    static let cases: [Case] = [
        Case(name: "YAML syntax", yaml: "pipe: 1\nname: [unclosed\n", expected:
            "r.yaml:3:1: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2)\n  hint: check indentation and quoting; in a flow mapping {...} quote values that contain `:` or `${`"),
        Case(name: "unknown top-level key", yaml: valid.replacingOccurrences(of: "name: t", with: "name: t\nsed: 3"), expected:
            "r.yaml:3:1: error: sed: unknown key `sed`\n  hint: did you mean `seed`?"),
        Case(name: "unknown stage key", yaml: valid.replacingOccurrences(of: "    command: echo a", with: "    comand: echo a"), expected:
            "r.yaml:8:5: error: stages.a.comand: unknown key `comand`\n  hint: did you mean `command`?"),
        Case(name: "wrong format version", yaml: valid.replacingOccurrences(of: "pipe: 1", with: "pipe: 2"), expected:
            "r.yaml:1:7: error: pipe: unsupported recipe format `2`\n  hint: this pipe reads `pipe: 1`"),
        Case(name: "missing pipe version", yaml: valid.replacingOccurrences(of: "pipe: 1\n", with: ""), expected:
            "r.yaml:1:1: error: pipe: missing required key `pipe`\n  hint: start the recipe with `pipe: 1`"),
        Case(name: "seed of wrong type", yaml: valid.replacingOccurrences(of: "name: t", with: "name: t\nseed: seven"), expected:
            "r.yaml:3:7: error: seed: expected a non-negative integer, got a string `\"seven\"`"),
        Case(name: "unknown kind", yaml: valid.replacingOccurrences(of: "    kind: command\n    command: echo a", with: "    kind: sythn"), expected:
            "r.yaml:7:11: error: stages.a.kind: unknown kind `sythn`\n  hint: did you mean `synth`?"),
        Case(name: "unknown input stage", yaml: valid.replacingOccurrences(of: "{up: a}", with: "{up: aa}"), expected:
            "r.yaml:11:18: error: stages.b.inputs.up: no stage named `aa`\n  hint: did you mean `a`?"),
        Case(name: "cycle", yaml: valid.replacingOccurrences(of: "    kind: command\n    command: echo a", with: "    kind: command\n    inputs: {x: b}\n    command: echo a"), expected:
            "r.yaml:8:17: error: stages.a.inputs.x: cycle: a -> b -> a\n  hint: a stage cannot depend, directly or through others, on its own output"),
        Case(name: "unresolved param", yaml: valid.replacingOccurrences(of: "echo b", with: "echo ${params.lrr}"), expected:
            "r.yaml:12:14: error: stages.b.command: unresolved `${params.lrr}`: no `lrr` in `params`\n  hint: did you mean `params.lr`?"),
        Case(name: "duplicate stage", yaml: valid + "\n  a:\n    kind: command\n    command: echo again", expected:
            "r.yaml:13:3: error: duplicate key `a` (first defined at line 6)\n  hint: remove or rename one of the two"),
        Case(name: "command field on a built-in kind", yaml: valid.replacingOccurrences(of: "    kind: command\n    command: echo a", with: "    kind: synth\n    command: echo a"), expected:
            "r.yaml:8:5: error: stages.a.command: `command` is only for `kind: command` stages\n  hint: pass options of a `synth` stage under `with:`"),
        Case(name: "inputs of wrong type", yaml: valid.replacingOccurrences(of: "{up: a}", with: "[a]"), expected:
            "r.yaml:11:13: error: stages.b.inputs: expected a mapping of role: stage, got a list\n  hint: for example `inputs: {dataset: split}`"),
        Case(name: "missing command", yaml: valid.replacingOccurrences(of: "    command: echo a\n", with: ""), expected:
            "r.yaml:7:5: error: stages.a.command: missing required key `command`\n  hint: add `command: ...` (a shell command)"),
        Case(name: "bad --set path", yaml: valid, sets: ["stages.c.with.x=1"], expected:
            "--set stages.c.with.x=1: error: stages.c: no key under `stages` named `c`\n  hint: did you mean `a`?"),
        Case(name: "--set of an unknown param", yaml: valid, sets: ["params.lrate=3"], expected:
            "--set params.lrate=3: error: params.lrate: no key under `params` named `lrate`\n  hint: expected one of: `lr`"),
        Case(name: "--set of an unknown stage field", yaml: valid, sets: ["stages.a.wiht.x=1"], expected:
            "--set stages.a.wiht.x=1: error: stages.a.wiht.x: no stage field `wiht`\n  hint: did you mean `with`?"),
        Case(name: "--set without =", yaml: valid, sets: ["params.lr"], expected:
            "--set params.lr: error: expected `path=value`\n  hint: for example --set params.reasoning=instruct"),
        Case(name: "--set wrong type reported at the override", yaml: valid, sets: ["seed=-1"], expected:
            "--set seed=-1: error: seed: expected a non-negative integer, got an integer `-1`"),
        Case(name: "params referring to themselves", yaml: valid.replacingOccurrences(of: "lr: 0.001", with: "lr: ${params.lr}"), expected:
            "r.yaml:4:7: error: params.lr: `${params.lr}` refers to itself: params.lr -> params.lr"),
        Case(name: "role that is not an identifier", yaml: valid.replacingOccurrences(of: "{up: a}", with: "{up-1: a}"), expected:
            "r.yaml:11:14: error: stages.b.inputs.up-1: invalid role name `up-1`\n  hint: roles become $PIPE_IN_<role>: use letters, digits and `_`"),
        Case(name: "empty stages", yaml: "pipe: 1\nname: t\nstages: {}\n", expected:
            "r.yaml:3:9: error: stages: expected a mapping of one or more stages, got a mapping"),
    ]

    @Test(arguments: cases)
    func reportsErrorWithLocation(_ test: Case) throws {
        let error = try #require(throws: RecipeError.self) {
            let overrides = try test.sets.map(Override.init(parsing:))
            _ = try Recipe.parse(test.yaml, file: "r.yaml", overrides: overrides, kinds: Self.kinds)
        }
        #expect(error.description == test.expected)
    }

    @Test func validRecipeParses() throws {
        let recipe = try Recipe.parse(Self.valid, file: "r.yaml", kinds: Self.kinds)
        #expect(recipe.stages.map(\.name) == ["a", "b"])
        #expect(recipe.stages[1].inputs.map(\.role) == ["up"])
        #expect(recipe.stages[1].inputs[0].location == SourceLocation(file: "r.yaml", line: 11, column: 18))
        #expect(RecipeGraph.topologicalOrder(recipe) == ["a", "b"])
    }
}
