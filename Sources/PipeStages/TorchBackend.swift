import Foundation
import PipeEngine
import PipeRecipe

/// Which implementation runs an ML stage: pipe's own Swift model (the default) or a Hugging Face
/// model with PyTorch and TRL (`python/pipe_torch`).
enum Backend: String, CaseIterable, OptionChoice {
    case swift, torch
}

/// The `with:` options of an ML kind on the torch backend, and how a stage picks its backend.
enum TorchOptions {
    static let backend = OptionKey<Backend>("backend", default: .swift,
                                            help: "swift: pipe's own model; torch: a Hugging Face Qwen2-VL-family model with PyTorch and TRL")

    /// `model: {config: {...}}`: a randomly initialised Qwen2-VL, seeded by the stage's seed.
    enum Config {
        static let keys: [any OptionDeclaration] = [
            OptionKey<Int>("hidden_size", 8...16384, default: 64, help: "text model width (an even head size)"),
            OptionKey<Int>("intermediate_size", 8...65536, default: 128, help: "text MLP width"),
            OptionKey<Int>("layers", 1...256, default: 2, help: "text decoder layers"),
            OptionKey<Int>("heads", 1...256, default: 4, help: "attention heads"),
            OptionKey<Int>("kv_heads", 1...256, default: 2, help: "key/value heads (heads must be divisible by it)"),
            OptionKey<Int>("vision_depth", 1...256, default: 2, help: "vision encoder blocks"),
            OptionKey<Int>("vision_embed_dim", 8...8192, default: 32, help: "vision encoder width"),
            OptionKey<Int>("vision_heads", 1...256, default: 2, help: "vision attention heads (a head size divisible by 4)"),
            OptionKey<Int>("vision_mlp_ratio", 1...16, default: 2, help: "vision MLP width over its width"),
            OptionKey<Int>("patch_size", 1...64, default: 14, help: "vision patch side in pixels"),
            OptionKey<Int>("spatial_merge_size", 1...8, default: 2, help: "patches merged per side into one image token"),
            OptionKey<Int>("image_size", 8...4096, default: 56, help: "every image is resized to this square (a multiple of patch_size x spatial_merge_size)"),
            OptionKey<Int>("max_position_embeddings", 64...1_048_576, default: 4096, help: "longest sequence"),
            OptionKey<Int>("vocab_size", 300...65536, default: 512, help: "the offline byte-level tokenizer's vocabulary"),
        ]
        static var schema: OptionSchema { OptionSchema(keys: keys) }
        /// Every key at its default.
        static var defaults: Value { .map(keys.map { ($0.declaration.name, $0.declaration.defaultValue ?? .null) }) }
    }

    static let model = OptionKey<Value>(
        "model", oneOf: [.init("path", .path), .init("config", .group(Config.schema))],
        default: .map([("config", Config.defaults)]),
        help: "{path: DIR}: a local Hugging Face checkpoint of the Qwen2-VL family (its content digest enters the key); "
            + "{config: {...}}: a randomly initialised Qwen2-VL of that shape, seeded by the stage's seed")
    static let threads = OptionKey<Int>("threads", 1...1024, default: 1,
                                        help: "torch's CPU threads (in the key: float sums depend on the thread count)")

    /// The torch schema of a kind: the backend, the torch `model` and `threads` in place of the
    /// Swift `model` group, then the kind's other options, declared once on the kind.
    static func schema(replacing swift: OptionSchema) -> OptionSchema {
        OptionSchema([backend.declaration, model.declaration, threads.declaration] + swift.options.filter { $0.name != model.name })
    }

    /// The backend `stage` asks for (`with: {backend: ...}`), checked.
    static func chosen(_ stage: Stage) throws -> Backend {
        guard let node = stage.with[backend.name] else { return .swift }
        let choices = Backend.allCases.map(\.rawValue)
        guard case .string(let text, _) = node.content, let chosen = Backend(rawValue: text) else {
            let written = node.string ?? node.value.json
            throw RecipeError(node.location, path: "stages.\(stage.name).with.backend", "`\(written)` is not one of \(choices.joined(separator: ", "))",
                              hint: Suggestions.hint(for: written, in: choices))
        }
        return chosen
    }

    /// `stage`'s `with` without `backend: swift`, which is the default and so keys as if unwritten.
    static func withoutSwiftBackend(_ stage: Stage) -> Node {
        guard let entries = stage.with.entries else { return stage.with }
        return Node(.map(entries.filter { $0.key != backend.name }), at: stage.with.location)
    }
}

/// How an ML kind resolves its options and keys a stage on either backend.
protocol BackendKind: StageKind {
    /// The options on the swift backend (today's schema).
    var swiftSchema: OptionSchema { get }
    /// Options only the torch backend has (TRL's), or that it declares wider (a longer list of
    /// choices), replacing the swift option of the same name.
    var torchOnlyOptions: [OptionSchema.Option] { get }
}

extension BackendKind {
    public var schema: OptionSchema? { swiftSchema }
    var torchOnlyOptions: [OptionSchema.Option] { [] }

    /// The torch backend's options: `backend`, its `model`, `threads`, then the swift options
    /// (each replaced by its torch declaration where there is one) and the torch-only ones.
    var torchSchema: OptionSchema {
        let base = TorchOptions.schema(replacing: swiftSchema)
        let replaced = base.options.map { option in torchOnlyOptions.first { $0.name == option.name } ?? option }
        return OptionSchema(replaced + torchOnlyOptions.filter { extra in !base.options.contains { $0.name == extra.name } })
    }

    public var torchOptions: OptionSchema? {
        OptionSchema([TorchOptions.backend.declaration, TorchOptions.model.declaration, TorchOptions.threads.declaration] + torchOnlyOptions)
    }

    public func schema(for stage: Stage) throws -> OptionSchema? {
        try TorchOptions.chosen(stage) == .torch ? torchSchema : swiftSchema
    }

    public func options(of stage: Stage) throws -> Value {
        let path = "stages.\(stage.name).with"
        if try TorchOptions.chosen(stage) == .torch { return try torchSchema.resolve(stage.with, path: path) }
        return try swiftSchema.resolve(TorchOptions.withoutSwiftBackend(stage), path: path)
    }

    /// On the torch backend: the backend's code and installed package versions, or the reason the
    /// environment cannot run it (at the stage's `backend:`, exit 2 before anything runs).
    public func backendMaterial(for stage: Stage) throws -> KeyValue? {
        guard try TorchOptions.chosen(stage) == .torch else { return nil }
        switch TorchEnvironment.current() {
        case .success(let environment): return environment.keyMaterial
        case .failure(let problem):
            throw RecipeError(stage.with[TorchOptions.backend.name]?.location ?? stage.location, path: "stages.\(stage.name).with.backend",
                              problem.message, hint: problem.hint)
        }
    }
}
