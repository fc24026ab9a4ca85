import Foundation
import PipeTestSupport
import Testing

/// The torch backend through the binary: `recipes/torch/sft.yaml` at a test scale (synth, unpack,
/// a tiny Qwen2-VL fine-tuned with TRL, evaluated clean and under PGD, reported), its re-run all
/// cached, its key following the installed packages, and bad input refused before anything runs.
/// Needs `.build/torchenv` (`make test` makes it with scripts/torch-env.sh first).
@Suite(.serialized) struct TorchBackendTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let interpreter = repository + "/.build/torchenv/bin/python"

    /// The recipe at test scale: fewer images, one epoch, a short validation.
    static let testScale = ["--set", "params.images=16", "--set", "stages.warmup.with.epochs=1", "--set", "stages.eval.with.limit=6",
                            "--set", "stages.eval.with.attack.limit=3"]

    /// A project with the repository's recipes; fails when the environment is missing.
    static func project() throws -> CLIProject {
        #expect(FileManager.default.isExecutableFile(atPath: interpreter), "no \(interpreter): run `bash scripts/torch-env.sh` (make test does)")
        let project = try CLIProject()
        #expect(BackgroundProcess.run("/bin/cp", ["-R", repository + "/recipes", project.path + "/recipes"]).status == 0)
        return project
    }

    @Test func theTorchRecipeRunsEndToEndAndIsCachedAfter() throws {
        let project = try Self.project()
        var arguments = ["run", "recipes/torch/sft.yaml"] + Self.testScale
        let run = try PipeBinary.run(arguments, in: project.path)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("5 ran, 0 cached"), "\(run.stdout)")
        for stage in ["warmup", "eval"] { #expect(try project.pipe("get", "latest", stage, "--out", stage).status == 0) }
        // A Hugging Face model directory that from_pretrained loads, and the Swift kind's files.
        for file in ["model/config.json", "model/model.safetensors", "curves.csv", "metrics.json", "predictions.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: project.path + "/warmup/" + file), "warmup/\(file)")
        }
        #expect(project.directory.read("warmup/curves.csv")?.hasPrefix("step,epoch,loss,learning_rate,grad_norm") == true)
        let metrics = try JSONSerialization.jsonObject(with: Data((project.directory.read("warmup/metrics.json") ?? "").utf8)) as? [String: Any]
        #expect(metrics?["validation"] != nil && metrics?["steps"] != nil && metrics?["finalLoss"] != nil, "\(String(describing: metrics))")
        let evaluation = try JSONSerialization.jsonObject(with: Data((project.directory.read("eval/metrics.json") ?? "").utf8)) as? [String: Any]
        #expect(evaluation?["clean"] != nil && (evaluation?["attacks"] as? [Any])?.count == 2, "\(String(describing: evaluation))")
        // Cached on a second run; the report reads both backends' files alike.
        arguments.append("--dry-run")
        #expect(try PipeBinary.run(arguments, in: project.path).stdout.contains("nothing to run: all 5 stages cached"))
        let report = try project.pipe("report", "latest", "--out", "out")
        #expect(report.status == 0 && report.stdout.contains("eval"), "\(report.stdout)\(report.stderr)")
        try Self.expectKeysFollowTheInstalledPackages(project, arguments: arguments)
    }

    /// With an interpreter that reports another transformers (an upgrade), the torch stages would
    /// run again and the others stay cached; the mismatch with the lock is said.
    static func expectKeysFollowTheInstalledPackages(_ project: CLIProject, arguments: [String]) throws {
        let fake = project.path + "/fake-site/transformers-9.9.9.dist-info"
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        try "Metadata-Version: 2.1\nName: transformers\nVersion: 9.9.9\n".write(toFile: fake + "/METADATA", atomically: true, encoding: .utf8)
        let wrapper = try project.directory.write("python", "#!/bin/sh\nPYTHONPATH=\"\(project.path)/fake-site:$PYTHONPATH\" exec \(interpreter) \"$@\"\n")
        chmod(wrapper, 0o755)
        let upgraded = try PipeBinary.run(arguments, in: project.path, environment: ["PIPE_PYTHON": wrapper])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        #expect(upgraded.stderr.contains("warning: the torch backend's packages differ from python/requirements.lock: transformers 9.9.9 (lock 5.25.0)"),
                "\(upgraded.stderr)")
        #expect(upgraded.stdout.contains("would run  warmup  `backend.packages.transformers` changed \"5.25.0\" -> \"9.9.9\""), "\(upgraded.stdout)")
        #expect(upgraded.stdout.contains("would run  eval") && upgraded.stdout.contains("3 of 5 stages would run"), "\(upgraded.stdout)")
        #expect(!upgraded.stdout.contains("would run  data") && !upgraded.stdout.contains("would run  split"), "\(upgraded.stdout)")
    }

    @Test func aTorchGRPOStageTrainsFromATorchWarmUpWithTRLsMetrics() throws {
        let project = try Self.project()
        let run = try PipeBinary.run(["run", "recipes/torch/grpo.yaml", "--only", "train", "--set", "params.images=16", "--set", "stages.warmup.with.epochs=1",
                                      "--set", "params.grpo_steps=2", "--set", "stages.train.with.prompts_per_step=2", "--set", "stages.train.with.group_size=2",
                                      "--set", "stages.train.with.micro_batch=4", "--set", "stages.train.with.max_new_tokens=8",
                                      "--set", "stages.train.with.eval.limit=2", "--set", "stages.train.with.importance_sampling_level=sequence"],
                                     in: project.path)
        #expect(run.status == 0 && run.stdout.contains("4 ran, 0 cached"), "\(run.stdout)\(run.stderr)")
        #expect(try project.pipe("get", "latest", "train", "--out", "train").status == 0)
        #expect(FileManager.default.fileExists(atPath: project.path + "/train/model/model.safetensors"))
        let header = project.directory.read("train/curves.csv")?.split(separator: "\n").first.map(String.init) ?? ""
        for column in ["reward", "frac_reward_zero_std", "kl", "entropy", "grad_norm", "learning_rate"] {
            #expect(header.split(separator: ",").contains(Substring(column)), "\(column) in \(header)")
        }
        let metrics = try JSONSerialization.jsonObject(with: Data((project.directory.read("train/metrics.json") ?? "").utf8)) as? [String: Any]
        #expect(metrics?["validation"] != nil, "\(String(describing: metrics))")
    }

    @Test func atGRPOOnTheTorchBackendIsRefusedBeforeAnythingRuns() throws {
        let project = try Self.project()
        try project.directory.write("at.yaml", """
            pipe: 1
            name: at
            stages:
              data: {kind: synth, with: {images: 8}}
              split: {kind: unpack, inputs: {archive: data}}
              robust: {kind: at-grpo, inputs: {dataset: split, policy: split}, with: {backend: torch}}
            """)
        let run = try project.pipe("run", "at.yaml")
        #expect(run.status == 2 && run.stderr.contains("at-grpo does not run on the torch backend yet"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"), "nothing is written")
    }

    @Test(arguments: [
        ("--set", "stages.warmup.with.model={path: nowhere}", "cannot read dependency `nowhere`"),
        ("--set", "stages.warmup.with.model={path: llama}", "is a `llama` checkpoint, not a vision-language model of the Qwen2-VL family"),
        ("--set", "stages.warmup.with.model={config: {hiden_size: 32}}", "unknown option `hiden_size`"),
        ("--set", "stages.warmup.with.backend=pytorch", "is not one of swift, torch"),
    ])
    func badInputIsRefusedBeforeAnythingRuns(_ flag: String, _ setting: String, _ message: String) throws {
        let project = try Self.project()
        try project.directory.write("recipes/torch/llama/config.json", "{\"model_type\": \"llama\"}\n")
        let run = try PipeBinary.run(["run", "recipes/torch/sft.yaml", flag, setting], in: project.path)
        #expect(run.status == 2 && run.stderr.contains(message), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"), "nothing is written")
    }

    @Test func anInterpreterWithoutTorchIsNamedWithTheCommandThatInstallsIt() throws {
        let project = try Self.project()
        let bare = try project.directory.write("bare-python", "#!/bin/sh\nexec python3 -S \"$@\"\n")
        chmod(bare, 0o755)
        let run = try PipeBinary.run(["run", "recipes/torch/sft.yaml"], in: project.path, environment: ["PIPE_PYTHON": bare])
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("stages.warmup.with.backend: the torch backend needs torch, transformers, trl, not installed in"), "\(run.stderr)")
        #expect(run.stderr.contains("hint: bash scripts/torch-env.sh"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"), "nothing is written")
    }
}
