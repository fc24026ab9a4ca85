import Testing
@testable import PipeRecipe

/// Experiment files: grid expansion (products, zips, seeds) and located errors.
struct ExperimentTests {
    static func labels(_ text: String) throws -> [String] {
        try Experiment.parse(text, file: "experiments/e.yaml").variants.map { v in
            v.label + (v.seed.map { " seed=\($0)" } ?? "")
        }
    }

    @Test func productsZipsAndSeedsExpandInOrder() throws {
        #expect(try Self.labels("recipe: r.yaml\ngrid: {params.a: [1, 2], params.b: [x, y]}\n")
                == ["params.a=1, params.b=x", "params.a=1, params.b=y", "params.a=2, params.b=x", "params.a=2, params.b=y"])
        #expect(try Self.labels("recipe: r.yaml\ngrid: {params.a: [1, 2]}\nzip:\n  - {params.b: [x, y], params.c: [[1], [2]]}\nseeds: [7, 8]\n")
                == ["params.a=1, params.b=x, params.c=[1] seed=7", "params.a=1, params.b=x, params.c=[1] seed=8",
                    "params.a=1, params.b=y, params.c=[2] seed=7", "params.a=1, params.b=y, params.c=[2] seed=8",
                    "params.a=2, params.b=x, params.c=[1] seed=7", "params.a=2, params.b=x, params.c=[1] seed=8",
                    "params.a=2, params.b=y, params.c=[2] seed=7", "params.a=2, params.b=y, params.c=[2] seed=8"])
        // Two zip groups multiply; no grid and no seeds is the recipe as written, once.
        #expect(try Self.labels("recipe: r.yaml\nzip:\n  - {params.a: [1, 2]}\n  - {params.b: [x, y, z]}\n").count == 6)
        #expect(try Self.labels("recipe: r.yaml\n") == [""])
        let experiment = try Experiment.parse("recipe: ../recipes/r.yaml\ncompare: eval.accuracy\nseeds: [1]\n", file: "experiments/e.yaml")
        #expect(experiment.recipe == "experiments/../recipes/r.yaml" && experiment.name == "e" && experiment.compare == ["eval.accuracy"])
        // `set:` settings apply to every variant, before its own.
        let quick = try Experiment.parse("recipe: r.yaml\nset: {params.images: 400, stages.data.seed: 7}\ngrid: {params.a: [1, 2]}\n", file: "e.yaml")
        #expect(quick.baseOverrides.map(\.path) == [["params", "images"], ["stages", "data", "seed"]] && quick.variants.count == 2)
        // A seed becomes a `seed` override; settings become overrides of their paths.
        let variant = try #require(try Experiment.parse("recipe: r.yaml\ngrid: {stages.t.with.lr: [0.1]}\nseeds: [3]\n", file: "e.yaml").variants.first)
        #expect(variant.overrides.map(\.path) == [["stages", "t", "with", "lr"], ["seed"]])
        #expect(variant.overrides.map { $0.value.value } == [.double(0.1), .int(3)])
    }

    @Test(arguments: [
        ("grid: {params.a: [1]}\n", "e.yaml:1:1: error: recipe: missing `recipe`"),
        ("recipe: r.yaml\ngrid: [1]\n", "e.yaml:2:7: error: grid: expected a mapping of recipe paths to lists of values"),
        ("recipe: r.yaml\ngrid: {params..a: [1]}\n", "e.yaml:2:8: error: grid.params..a: the path `params..a` has an empty part"),
        ("recipe: r.yaml\ngrid: {params.a: [1]}\nzip:\n  - {params.a: [2]}\n", "e.yaml:4:6: error: params.a: the axis `params.a` is given twice"),
        ("recipe: r.yaml\nseeds: [1, two]\n", "e.yaml:2:12: error: seeds: expected an integer, got a string"),
        ("recipe: r.yaml\ncompare: [accuracy]\n", "e.yaml:2:11: error: compare: expected a metric `stage.name`"),
        ("recipe: r.yaml\nzip: {params.a: [1]}\n", "e.yaml:2:6: error: zip: expected a list of groups"),
        ("recipe: r.yaml\nseed: [1]\n", "e.yaml:2:1: error: seed: unknown experiment field `seed`\n  hint: did you mean `seeds`?"),
    ])
    func errorsAreLocated(text: String, expected: String) throws {
        let error = try #require(throws: RecipeError.self) { try Experiment.parse(text, file: "e.yaml") }
        #expect(error.description.hasPrefix(expected), "\(error.description)")
    }
}
