import Foundation
import PipeTestSupport
import Testing

/// `kind: sft` through a recipe and the built binary.
struct SFTCommandTests {
    static let recipe = """
        pipe: 1
        name: warmup
        seed: 2
        stages:
          data:
            kind: synth
            with: {images: 24, size: 16, modalities: [CT, OCT]}
          split:
            kind: unpack
            inputs: {archive: data}
            with: {size: 16}
          warmup:
            kind: sft
            inputs: {dataset: split}
            with:
              reasoning: instruct
              epochs: 1
              batch_size: 8
              micro_batch: 4
              model: {dim: 16, heads: 2, layers: 1, vision_layers: 1, patch: 8, max_len: 80}
              eval: {max_new_tokens: 6}
        """

    @Test func trainsAndWritesCheckpointCurvesAndMetrics() throws {
        let project = try CLIProject()
        try project.directory.write("warmup.yaml", Self.recipe)
        let run = try project.pipe("run", "warmup.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "warmup", "--out", "out")
        let files = try FileManager.default.contentsOfDirectory(atPath: project.path + "/out").sorted()
        #expect(files == ["curves.csv", "metrics.json", "model.safetensors", "predictions.jsonl", "timing.csv"])
        let lines = try String(contentsOfFile: project.path + "/out/predictions.jsonl", encoding: .utf8).split(separator: "\n")
        let predictions = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: project.path + "/out/metrics.json"))) as? [String: Any])
        let validation = try #require(metrics["validation"] as? [String: Any])
        #expect(validation["accuracy"] is Double && validation["byModality"] is [String: Any] && validation["formatRate"] is Double)
        // One prediction per validation record, and the metrics are their summary.
        #expect(predictions.count == validation["count"] as? Int && !predictions.isEmpty)
        let correct = predictions.filter { $0["correct"] as? Bool == true }.count
        #expect(validation["accuracy"] as? Double == Double(correct) / Double(predictions.count))
        #expect(predictions.allSatisfy { ($0["correct"] as? Bool) == ($0["predicted"] as? String == $0["answer"] as? String)
                && $0["question_id"] is String && $0["completion"] is String })
        let curve = try String(contentsOfFile: project.path + "/out/curves.csv", encoding: .utf8).split(separator: "\n")
        #expect(curve.first == "step,epoch,loss,lr,grad_norm,tokens" && curve.count > 2)
        // PIPE_THREADS changes neither the key nor the checkpoint.
        let again = try project.pipe("run", "warmup.yaml", "--force", "warmup", environment: ["PIPE_THREADS": "1"])
        #expect(again.status == 0)
        try project.pipe("get", "latest", "warmup", "--out", "out1")
        #expect(FileManager.default.contents(atPath: project.path + "/out/model.safetensors")
                == FileManager.default.contents(atPath: project.path + "/out1/model.safetensors"))
    }

    /// The recipe plus an adversarial fine-tune of its warm-up.
    static let adversarialRecipe = recipe + """

          robust:
            kind: sft
            inputs: {dataset: split, policy: warmup}
            with:
              reasoning: instruct
              batch_size: 8
              micro_batch: 4
              lr: 0.001
              eval: {max_new_tokens: 6}
              adversarial: {eps: 0.0627, alpha: 0.0157, steps: 2}
        """

    @Test func anAdversarialFineTuneContinuesItsPolicyInput() throws {
        let project = try CLIProject()
        try project.directory.write("robust.yaml", Self.adversarialRecipe)
        let run = try project.pipe("run", "robust.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "robust", "--out", "robust")
        try project.pipe("get", "latest", "warmup", "--out", "warmup")
        let robust = try String(contentsOfFile: project.path + "/robust/curves.csv", encoding: .utf8).split(separator: "\n")
        let warmup = try String(contentsOfFile: project.path + "/warmup/curves.csv", encoding: .utf8).split(separator: "\n")
        // Two epochs from the warm-up's weights: its first loss is below the fresh model's first loss.
        let firstLoss = { (lines: [Substring]) in Double(lines[1].split(separator: ",")[2]) ?? .nan }
        #expect(robust.count == 2 * (warmup.count - 1) + 1)
        #expect(firstLoss(robust) < firstLoss(warmup), "\(robust[1]) vs \(warmup[1])")
        let header = { (name: String) in
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: project.path + "/\(name)/model.safetensors")).prefix(4096), as: UTF8.self)
        }
        #expect(try header("robust").contains("pipe.adversarial_eps"))
        #expect(try !header("warmup").contains("pipe.adversarial_eps"), "no `adversarial:`, no attack")
    }

    @Test(arguments: [
        ("stages.robust.with.adversarial.norm=l3", "`l3` is not one of linf, l2"),
        ("stages.robust.with.adversarial.fraction=2", "stages.robust.with.adversarial.fraction: expected a number in 0.0...1.0, got an integer `2`"),
    ])
    func badAdversarialOptionsAreRefused(setting: String, message: String) throws {
        try CLIProject().expectRefused(recipe: Self.adversarialRecipe, file: "robust.yaml", setting: setting, message: message)
    }

    @Test func aPatchThatDoesNotDivideTheDatasetsImagesFailsTheStage() throws {
        let project = try CLIProject()
        try project.directory.write("warmup.yaml", Self.recipe)
        let run = try project.pipe("run", "warmup.yaml", "--set", "stages.warmup.with.model.patch=5")
        #expect(run.status == 1)
        #expect(run.stdout.contains("the image size (16) is not divisible by patch (5)"), "\(run.stdout)")
    }

    @Test(arguments: [
        ("stages.warmup.with.model.heads=3", "stages.warmup.with.model: dim (16) is not divisible by heads (3)"),
        ("stages.warmup.with.model.max_len=4", "stages.warmup.with.model.max_len: expected an integer in 8...4096, got an integer `4`"),
        ("stages.warmup.with.reasoning=think", "`think` is not one of cot, instruct"),
        ("stages.warmup.with.epoch=3", "unknown option `epoch`\n  hint: did you mean `epochs`?"),
        ("stages.warmup.with.train_fraction=0", "stages.warmup.with.train_fraction: expected a number in 0.001...1.0, got an integer `0`"),
    ])
    func badOptionsAreRefusedBeforeRunning(setting: String, message: String) throws {
        try CLIProject().expectRefused(recipe: Self.recipe, file: "warmup.yaml", setting: setting, message: message)
    }
}
