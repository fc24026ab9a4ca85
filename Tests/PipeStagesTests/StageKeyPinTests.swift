import Foundation
import PipeEngine
import PipeRecipe
import PipeStages
import Testing

/// The cache keys of the shipped recipes' stages, pinned: a change to a kind's declarations that
/// moves a key (a renamed option, a default of another type, a new default) fails here, so that it
/// is made on purpose, with the kind's version bumped and the reason in its docs page.
struct StageKeyPinTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Each stage's identity: its key material with its inputs' identities in place of their output digests.
    static func identities(_ recipe: String) throws -> [String: String] {
        let file = root + "/recipes/" + recipe
        let parsed = try Recipe.parse(try String(contentsOfFile: file, encoding: .utf8), file: file, kinds: KindRegistry.builtIn.names)
        let pipeline = Pipeline(jobs: try JobBuilder().jobs(for: parsed, recipeFile: file))
        var identityOf: [String: Digest] = [:]
        for index in pipeline.order {
            let job = pipeline.jobs[index]
            var inputs: [String: Digest] = [:]
            for input in job.inputs { inputs[input.role] = try #require(identityOf[input.job]) }
            identityOf[job.name] = job.keyMaterial(inputs: inputs).digest
        }
        return identityOf.mapValues(\.hex)
    }

    @Test(arguments: pinned)
    func stageKeyIsUnchanged(_ recipe: String, _ stage: String, _ key: String) throws {
        #expect(try Self.identities(recipe)[stage] == key,
                "the key of \(recipe)'s stage `\(stage)` moved: bump its kind's version and say why in its docs page, or keep the key")
    }

    /// Every kind with declared options, from `recipes/at-grpo.yaml` (keys before the options were typed;
    /// smooth 3 and evaluate 10, which state the largest certifiable radius, moved those stages' keys and the report's).
    static let pinned: [(String, String, String)] = [
        ("at-grpo.yaml", "data", "b41188d5af616450eec40759aed02dd81d7dee7c6c351c1151a9f2f4c54dac7e"),
        ("at-grpo.yaml", "split", "b7b7f1b459b239c4f025790f6db1206d6c243770329724e2a1753f981282e5af"),
        ("at-grpo.yaml", "warmup", "8f96650d53f44a40bcd5a867d2a7a9ceb5d6e365d87a96f583918c9cea7f1007"),
        ("at-grpo.yaml", "train", "42b04661c0939b02868999ca0c667f17d3131e816c0062514415336c8c5d32ca"),
        ("at-grpo.yaml", "adv-warmup", "be4b2f9a998318a10148aaf19be1014d57d522c2ab2ef1b292e2626d12afc7d4"),
        ("at-grpo.yaml", "eval-sft", "eb4470cc09c25c000a377533e94af689d075cf007ac159dc64939f21c33d80b2"),
        ("at-grpo.yaml", "robust", "02b94e38d66ffd8eb99a3e745ee4792828ccf0ba07fc642ac360f6612a8251d1"),
        ("at-grpo.yaml", "smooth", "dfaf0f2fdad6390428afa9e873eac13fe8774f9e7728488e8349da9c5c7dca3b"),
        ("at-grpo.yaml", "eval-grpo", "94f0eff56dfec87b66b1e23e292b810ab89fff95d01e946b461ef20587b02569"),
        ("at-grpo.yaml", "eval-at-grpo", "161ce313f63c7d482feb18d377bd038dff19996da7940195f41f592518795aa9"),
        ("at-grpo.yaml", "report", "8af69bfe32944075ca6f19079b439e6f213cf7f39db7f73e15d8904f8c05fa80"),
    ]
}
