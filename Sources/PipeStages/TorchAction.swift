import Foundation
import PipeEngine
import PipeRecipe

/// Runs an ML stage on the torch backend: writes the request (`python/README.md` is the contract),
/// runs `python -m pipe_torch run` as a child in its own process group (its log captured, its
/// `$PIPE_PROGRESS` shown, a cancellation reaching it), and leaves the outputs it wrote, in the same
/// schema as the Swift kind's, in the stage's output directory.
struct TorchAction: JobAction {
    var kind: String
    /// The stage's resolved options as JSON, with `model.path` absolute and `threads` taken out.
    var options: Value
    var threads: Int
    var seed: Int

    /// The action for a stage whose options resolved on the torch backend.
    /// `modelWhenUnwritten`: whether an unwritten `model:` is sent as its default (sft's new model)
    /// or left out (evaluate's model is its policy).
    static func make(kind: String, stage: ResolvedStage, modelWhenUnwritten: Bool = true) throws -> TorchAction {
        guard case .map(var entries) = stage.options else { throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name).with", "expected options") }
        var threads = 1
        entries.removeAll { entry in
            if entry.0 == TorchOptions.threads.name, case .int(let n) = entry.1 { threads = n }
            return entry.0 == TorchOptions.threads.name
        }
        // A group resolves with its defaults filled in: only a written `adversarial:` turns it on.
        if stage.stage.with["adversarial"] == nil { entries = entries.map { $0.0 == "adversarial" ? ($0.0, .null) : $0 } }
        if !modelWhenUnwritten, stage.stage.with[TorchOptions.model.name] == nil {
            entries = entries.map { $0.0 == TorchOptions.model.name ? ($0.0, .null) : $0 }
        }
        if let index = entries.firstIndex(where: { $0.0 == TorchOptions.model.name }), case .string(let path)? = entries[index].1["path"] {
            try checkCheckpoint(path.hasPrefix("/") ? path : stage.recipeDirectory + "/" + path, stage: stage)
            entries[index].1 = .map([("path", .string(path.hasPrefix("/") ? path : stage.recipeDirectory + "/" + path))])
        }
        return TorchAction(kind: kind, options: .map(entries), threads: threads, seed: stage.seed)
    }

    /// A `model: {path: DIR}` must be a Qwen2-VL-family checkpoint: refused before anything runs.
    static func checkCheckpoint(_ directory: String, stage: ResolvedStage) throws {
        let location = stage.stage.with["model"]?["path"]?.location ?? stage.stage.location
        let field = "stages.\(stage.stage.name).with.model.path"
        let hint = "give a local Hugging Face checkpoint of the Qwen2-VL family (its config.json has model_type qwen2_vl or qwen2_5_vl)"
        guard let data = FileManager.default.contents(atPath: directory + "/config.json"),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RecipeError(location, path: field, "\(directory) has no readable config.json: not a Hugging Face checkpoint", hint: hint)
        }
        let type = config["model_type"] as? String ?? "none"
        guard ["qwen2_vl", "qwen2_5_vl"].contains(type) else {
            throw RecipeError(location, path: field, "\(directory) is a `\(type)` checkpoint, not a vision-language model of the Qwen2-VL family", hint: hint)
        }
    }

    func run(_ context: JobContext) throws {
        guard case .success(let environment) = TorchEnvironment.current() else {
            throw JobFailure("the torch backend's environment is gone since the recipe was read")
        }
        let scratch = context.scratchDirectory + "/torch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let requestPath = context.scratchDirectory + "/request.json"
        try request(context, scratch: scratch).write(to: URL(fileURLWithPath: requestPath))
        var variables = ProcessInfo.processInfo.environment
        variables["PYTHONPATH"] = environment.packageRoot
        variables["PYTHONDONTWRITEBYTECODE"] = "1"
        variables["PIPE_PROGRESS"] = context.progressPath
        let status = try Subprocess.run([environment.interpreter, "-m", "pipe_torch", "run", requestPath], environment: variables,
                                        logPath: context.logPath, cancellation: context.cancellation)
        switch status {
        case .exited(0): return
        case .exited(let code): throw JobFailure("the torch backend exited with status \(code): \(Self.lastError(in: context.logPath))")
        case .signaled(let signal): throw JobFailure("the torch backend was killed by signal \(signal)")
        }
    }

    /// The request `pipe_torch run` reads.
    func request(_ context: JobContext, scratch: String) throws -> Data {
        var inputs: [String: Any] = [:]
        for (role, directory) in context.inputDirectories { inputs[role] = directory }
        let body: [String: Any] = [
            "kind": kind, "options": try JSONSerialization.jsonObject(with: Data(options.json.utf8)), "seed": seed,
            "inputs": inputs, "output": context.outputDirectory, "scratch": scratch, "threads": threads,
        ]
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    /// The `error: ...` line (and its hint) the backend wrote last, for the stage's message.
    static func lastError(in log: String) -> String {
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        guard let index = lines.lastIndex(where: { $0.hasPrefix("error: ") }) else { return lines.last ?? "no message" }
        return lines[index...].prefix(2).joined(separator: "; ")
    }
}
