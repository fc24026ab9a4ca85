import Foundation
import PipeEngine
import PipeRecipe
import PipeStages
import PipeTestSupport
import Testing

/// `with:` options of built-in kinds: checking, defaults, and `path` options keyed by content.
struct OptionSchemaTests {
    /// A kind with one option of each type, as the dataset and training kinds will have.
    struct ExampleKind: StageKind {
        let name = "example"
        let summary = "a kind with one option of each type"
        let version = 1
        var schema: OptionSchema? {
            OptionSchema([
                .init("path", .path, default: nil, help: "the archive to read, e.g. datasets/OmniMedVQA.zip"),
                .init("size", .int(8...1024), default: .int(64), help: "image side in pixels"),
                .init("lr", .number(0...1), default: .double(1e-4), help: "learning rate"),
                .init("reasoning", .text(["cot", "instruct"]), default: .string("cot"), help: "target format"),
                .init("modalities", .textList(nil), default: .list([]), help: "modalities to keep"),
                .init("shuffle", .bool, default: .bool(true), help: "shuffle"),
                .init("split", .group(OptionSchema([
                    .init("test", .number(0...1), default: .double(0.2), help: "test fraction"),
                    .init("val", .number(0...1), default: .double(0.1), help: "validation fraction"),
                ])), default: nil, help: "split fractions"),
                .init("criterion", .oneOf([.init("accuracy_at", .number(0...10)), .init("mean_radius", nil)]),
                      default: .map([("accuracy_at", .double(0.25))]), help: "how to choose"),
            ])
        }
        func action(for stage: ResolvedStage) throws -> JobAction { ClosureAction { _ in } }
    }

    static func recipe(_ with: String) -> String {
        """
        pipe: 1
        name: t
        stages:
          s:
            kind: example
            with: \(with)
        """
    }

    func jobs(_ with: String, directory: TemporaryDirectory) throws -> [Job] {
        let text = Self.recipe(with)
        let recipe = try Recipe.parse(text, file: directory.path + "/r.yaml", kinds: ["example"])
        return try JobBuilder(registry: KindRegistry([ExampleKind()])).jobs(for: recipe, recipeFile: directory.path + "/r.yaml")
    }

    @Test func defaultsAreFilledAndIntegersBecomeNumbers() throws {
        let directory = try TemporaryDirectory("schema")
        try directory.write("data.zip", "archive bytes")
        let job = try #require(try jobs("{path: data.zip, lr: 1, modalities: CT, split: {test: 0.3}}", directory: directory).first)
        #expect(job.material["with"] == .map([
            "path": .string("sha256:" + Digest.of(Data("archive bytes".utf8)).hex),
            "size": .int(64), "lr": .double(1), "reasoning": .string("cot"), "modalities": .list([.string("CT")]),
            "shuffle": .bool(true), "split": .map(["test": .double(0.3), "val": .double(0.1)]),
            "criterion": .map(["accuracy_at": .double(0.25)]),
        ]))
    }

    @Test func oneOfTakesABareNameOrANameWithItsValue() throws {
        let directory = try TemporaryDirectory("schema")
        try directory.write("d.zip", "x")
        let bare = try #require(try jobs("{path: d.zip, criterion: mean_radius}", directory: directory).first)
        #expect(bare.material["with"]?["criterion"] == .map(["mean_radius": .bool(true)]))
        let valued = try #require(try jobs("{path: d.zip, criterion: {accuracy_at: 1}}", directory: directory).first)
        #expect(valued.material["with"]?["criterion"] == .map(["accuracy_at": .double(1)]))
    }

    @Test func pathOptionsAreKeyedByContentNotName() throws {
        let directory = try TemporaryDirectory("schema")
        try directory.write("a.zip", "same")
        try directory.write("b.zip", "same")
        try directory.write("c.zip", "different")
        let key = { (file: String) in try self.jobs("{path: \(file)}", directory: directory)[0].keyMaterial(inputs: [:]).digest }
        #expect(try key("a.zip") == key("b.zip"))
        #expect(try key("a.zip") != key("c.zip"))
    }

    @Test(arguments: [
        ("{path: d.zip, sise: 32}", "r.yaml:6:25: error: stages.s.with.sise: unknown option `sise`\n  hint: did you mean `size`?"),
        ("{path: d.zip, size: 4}", "r.yaml:6:31: error: stages.s.with.size: expected an integer in 8...1024, got an integer `4`"),
        ("{path: d.zip, size: 6.5}", "r.yaml:6:31: error: stages.s.with.size: expected an integer in 8...1024, got a number `6.5`"),
        ("{path: d.zip, lr: high}", "r.yaml:6:29: error: stages.s.with.lr: expected a number in 0.0...1.0, got a string `\"high\"`"),
        ("{path: d.zip, reasoning: cto}", "r.yaml:6:36: error: stages.s.with.reasoning: `cto` is not one of cot, instruct\n  hint: did you mean `cot`?"),
        ("{path: d.zip, split: {tset: 0.1}}", "r.yaml:6:33: error: stages.s.with.split.tset: unknown option `tset`\n  hint: did you mean `test`?"),
        ("{path: d.zip, shuffle: 1}", "r.yaml:6:34: error: stages.s.with.shuffle: expected true or false, got an integer `1`"),
        ("{size: 32}", "r.yaml:6:11: error: stages.s.with.path: missing required option `path`\n  hint: the archive to read, e.g. datasets/OmniMedVQA.zip"),
        ("{path: d.zip, criterion: mean_radios}", "r.yaml:6:36: error: stages.s.with.criterion: `mean_radios` is not one of accuracy_at, mean_radius\n  hint: did you mean `mean_radius`?"),
        ("{path: d.zip, criterion: accuracy_at}", "r.yaml:6:36: error: stages.s.with.criterion: `accuracy_at` needs a value\n  hint: write {accuracy_at: VALUE}"),
        ("{path: d.zip, criterion: {mean_radius: 1}}", "r.yaml:6:37: error: stages.s.with.criterion.mean_radius: `mean_radius` takes no value\n  hint: write mean_radius"),
        ("{path: d.zip, criterion: {accuracy_at: x}}", "r.yaml:6:50: error: stages.s.with.criterion.accuracy_at: expected a number in 0.0...10.0"),
        ("{path: d.zip, criterion: [1]}", "r.yaml:6:36: error: stages.s.with.criterion: expected {accuracy_at: VALUE} or mean_radius, got a list"),
        ("{path: nope.zip}", "r.yaml:6:18: error: stages.s.with.path: cannot read dependency `nope.zip`"),
    ])
    func badOptionsAreLocated(with: String, expected: String) throws {
        let directory = try TemporaryDirectory("schema")
        try directory.write("d.zip", "x")
        let error = try #require(throws: RecipeError.self) { try jobs(with, directory: directory) }
        let text = error.description.replacingOccurrences(of: directory.path + "/", with: "")
        #expect(text.hasPrefix(expected), "\(text)")
    }
}
