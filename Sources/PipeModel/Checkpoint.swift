import Foundation

/// A policy with its tokenizer, saved as one safetensors file: one tensor per parameter (names as
/// in `ParameterLayout`), the model config and tokenizer as JSON in `__metadata__`.
public struct Checkpoint: Sendable {
    public var model: VisionLanguageModel
    public var tokenizer: Tokenizer
    /// Free-form facts stored alongside (the stage that wrote it, steps, ...).
    public var info: [String: String]

    public init(model: VisionLanguageModel, tokenizer: Tokenizer, info: [String: String] = [:]) {
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
    }

    public static let fileName = "model.safetensors"

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The file's bytes; the same checkpoint always gives the same bytes.
    public func encoded() throws -> Data {
        let parameters = model.parameters
        let tensors = parameters.tensors.map { t in
            Safetensors.Tensor(name: t.name, shape: t.shape, values: Array(parameters.values[t.offset..<(t.offset + t.count)]))
        }
        var metadata = info
        metadata["format"] = "pt"
        metadata["pipe.config"] = try Self.json(model.config)
        metadata["pipe.tokenizer"] = try Self.json(tokenizer)
        return try Safetensors.encode(tensors, metadata: metadata)
    }

    public func write(to path: String) throws {
        try encoded().write(to: URL(fileURLWithPath: path))
    }

    /// Reads a checkpoint written by `write`.
    public static func read(from path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError("cannot read checkpoint \(path)") }
        let (tensors, metadata) = try Safetensors.decode(data, file: path)
        guard let configText = metadata["pipe.config"], let tokenizerText = metadata["pipe.tokenizer"] else {
            throw ModelError("\(path): the checkpoint has no pipe.config or pipe.tokenizer metadata; was it written by pipe?")
        }
        let config: ModelConfig, tokenizer: Tokenizer
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: Data(configText.utf8))
            tokenizer = try JSONDecoder().decode(Tokenizer.self, from: Data(tokenizerText.utf8))
        } catch {
            throw ModelError("\(path): unreadable model config or tokenizer in the metadata: \(error)")
        }
        var model = try VisionLanguageModel(config: config, seed: 0)
        for tensor in tensors {
            guard let slot = model.parameters.tensor(tensor.name), slot.shape == tensor.shape else {
                throw ModelError("\(path): tensor \(tensor.name) \(tensor.shape) does not belong to the model config")
            }
            model.parameters.values.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: tensor.values)
        }
        guard tensors.count == model.parameters.tensors.count else {
            throw ModelError("\(path): \(tensors.count) tensors; the config needs \(model.parameters.tensors.count)")
        }
        var info = metadata
        for key in ["format", "pipe.config", "pipe.tokenizer"] { info[key] = nil }
        return Checkpoint(model: model, tokenizer: tokenizer, info: info)
    }
}
