import Foundation
import PipeEngine
import PipeRecipe
import PipeStages
import PipeTestSupport
import Testing

/// `backend:` on the ML kinds: `swift` (the default) keys exactly as before, a wrong value is
/// refused at its place, and the torch backend's options are its own.
struct BackendOptionTests {
    static func jobs(_ stages: String) throws -> [Job] {
        let text = "pipe: 1\nname: b\nstages:\n  split:\n    kind: unpack\n    with: {path: data.zip}\n" + stages
        let directory = try TemporaryDirectory("backend")
        try Data("zip".utf8).write(to: URL(fileURLWithPath: directory.path + "/data.zip"))
        let file = directory.path + "/r.yaml"
        let parsed = try Recipe.parse(text, file: file, kinds: KindRegistry.builtIn.names)
        return try JobBuilder().jobs(for: parsed, recipeFile: file)
    }

    @Test func aWrittenSwiftBackendKeysAsTheDefault() throws {
        let implicit = try Self.jobs("  warmup:\n    kind: sft\n    inputs: {dataset: split}\n    with: {epochs: 1}\n")
        let explicit = try Self.jobs("  warmup:\n    kind: sft\n    inputs: {dataset: split}\n    with: {epochs: 1, backend: swift}\n")
        #expect(implicit[1].material == explicit[1].material)
        guard case .map(let material) = explicit[1].material else { Issue.record("material is a map"); return }
        #expect(material["backend"] == nil)
    }

    @Test func anUnknownBackendIsRefusedAtItsPlace() throws {
        #expect {
            try Self.jobs("  warmup:\n    kind: sft\n    inputs: {dataset: split}\n    with: {backend: torhc}\n")
        } throws: { error in
            let text = "\(error)"
            return text.contains("r.yaml:10:") && text.contains("stages.warmup.with.backend: `torhc` is not one of swift, torch")
                && text.contains("did you mean `torch`?")
        }
    }

    @Test func theSwiftModelGroupIsNotATorchOption() throws {
        let schema = try #require(try KindRegistry.builtIn.kind("sft")?.schema(for: try Self.stage("{backend: torch}")))
        let names = schema.options.map(\.name)
        #expect(names.prefix(3) == ["backend", "model", "threads"] && names.contains("epochs") && names.filter { $0 == "model" }.count == 1)
        #expect(schema.pathOptions.contains(["model", "path"]))
    }

    @Test func grpoOnTorchTakesTRLsFurtherOptionsAndSwiftDoesNot() throws {
        let kind = try #require(KindRegistry.builtIn.kind("grpo"))
        let torch = try #require(try kind.schema(for: try Self.stage("{backend: torch}", kind: "grpo")))
        let names = torch.options.map(\.name)
        #expect(names.contains("importance_sampling_level") && names.contains("top_p") && names.filter { $0 == "loss_type" }.count == 1)
        guard case .text(let choices?) = try #require(torch.options.first { $0.name == "loss_type" }).type else { Issue.record("loss_type is text"); return }
        #expect(choices.contains("cispo") && choices.contains("dapo"))
        let swift = try #require(try kind.schema(for: try Self.stage("{}", kind: "grpo")))
        #expect(!swift.options.map(\.name).contains("importance_sampling_level") && !swift.options.map(\.name).contains("backend"))
    }

    static func stage(_ with: String, kind: String = "sft") throws -> Stage {
        let text = "pipe: 1\nname: b\nstages:\n  warmup:\n    kind: \(kind)\n    with: \(with)\n"
        return try #require(try Recipe.parse(text, file: "r.yaml", kinds: KindRegistry.builtIn.names).stages.first)
    }
}
