import Foundation
import PipeEngine
import PipeRecipe
import PipeStages
import PipeTestSupport
import Testing

/// What enters a stage's cache key, and what does not.
struct CacheKeyTests {
    static let recipe = """
        pipe: 1
        name: keys
        seed: 1
        params: {lr: 0.1}
        stages:
          train:
            kind: command
            seed: 5
            with: {lr: "${params.lr}"}
            env: {MODE: fast}
            deps: [train.sh]
            command: sh train.sh
        """

    /// The key of `train` for a recipe text in a directory holding `train.sh` with `script`.
    func key(_ text: String = recipe, script: String = "echo train\n", directory: String? = nil, sets: [String] = []) throws -> Digest {
        let folder = try TemporaryDirectory("keys")
        let root = directory.map { folder.path + "/" + $0 } ?? folder.path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try script.write(toFile: root + "/train.sh", atomically: true, encoding: .utf8)
        let parsed = try Recipe.parse(text, file: root + "/r.yaml", overrides: try sets.map(Override.init(parsing:)), kinds: ["command"])
        let jobs = try JobBuilder().jobs(for: parsed, recipeFile: root + "/r.yaml")
        let job = try #require(jobs.first)
        return job.keyMaterial(inputs: [:]).digest
    }

    @Test func keyIgnoresPathsNamesCommentsAndFormatting() throws {
        let base = try key()
        #expect(try key(directory: "elsewhere/deeper") == base)
        #expect(try key(Self.recipe.replacingOccurrences(of: "  train:", with: "  fit:")) == base, "stage name with a pinned seed")
        #expect(try key("# a comment\n" + Self.recipe.replacingOccurrences(of: "name: keys", with: "name: other")) == base)
        #expect(try key(Self.recipe.replacingOccurrences(of: "with: {lr: \"${params.lr}\"}", with: "with:\n      lr: 1e-1")) == base)
    }

    @Test(arguments: [
        ("with value", ["params.lr=0.2"]),
        ("seed", ["stages.train.seed=6"]),
        ("env", ["stages.train.env.MODE=slow"]),
        ("command", ["stages.train.command=sh train.sh --fast"]),
        ("new option", ["stages.train.with.epochs=2"]),
        ("int vs float", ["params.lr=1"]),
    ])
    func keyCoversEachComponent(_ name: String, _ sets: [String]) throws {
        #expect(try key(sets: sets) != key(), "\(name)")
    }

    @Test func keyCoversDependencyContentNotItsTimestamp() throws {
        #expect(try key(script: "echo other\n") != key())
        #expect(try key(script: "echo train\n") == key())
    }

    @Test func derivedSeedFollowsRecipeSeedAndStageName() throws {
        let unpinned = Self.recipe.replacingOccurrences(of: "    seed: 5\n", with: "")
        let base = try key(unpinned)
        #expect(try key(unpinned.replacingOccurrences(of: "seed: 1", with: "seed: 2")) != base)
        #expect(try key(unpinned.replacingOccurrences(of: "  train:", with: "  fit:")) != base)
    }

    @Test func missingDependencyIsARecipeError() throws {
        let error = try #require(throws: RecipeError.self) {
            _ = try key(Self.recipe.replacingOccurrences(of: "deps: [train.sh]", with: "deps: [nope.sh]"))
        }
        #expect(error.path == "stages.train.deps")
        #expect(error.location.line == 11)
        #expect(error.description.contains("cannot read dependency `nope.sh`"))
    }

    @Test func canonicalEncodingIsStableAndTyped() {
        let a = KeyValue.map(["b": .int(1), "a": .list([.string("x"), .double(0.5), .null, .bool(true)])])
        let b = KeyValue.map(["a": .list([.string("x"), .double(0.5), .null, .bool(true)]), "b": .int(1)])
        #expect(a.digest == b.digest)
        #expect(KeyValue.int(1).digest != KeyValue.double(1).digest)
        #expect(KeyValue.string("1").digest != KeyValue.int(1).digest)
        #expect(KeyValue.list([.string("ab")]).digest != KeyValue.list([.string("a"), .string("b")]).digest)
        // Pinned (computed independently in Python from the documented encoding) so that a change of
        // the encoding, which would invalidate every cache, is noticed.
        #expect(a.digest.hex == "d87703da1d2eb5a9b9ec6f5af5bf8427e6a7ee24be4da65a5468579587bfb42f")
    }
}
