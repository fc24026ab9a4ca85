import Foundation
import PipeRandom
import Testing
@testable import PipeModel

/// safetensors files: round trips, identical logits after save and load, bad files, and the Python
/// `safetensors` package reading what pipe writes.
struct CheckpointTests {
    static let config = ModelConfig(imageSize: 8, patch: 4, dim: 8, heads: 2, layers: 1, visionLayers: 1, mlpRatio: 2,
                                    maxLen: 6, vocabSize: 20)

    static func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "/ckpt-\(UUID().uuidString.prefix(8))-\(name)"
    }

    @Test func saveLoadGivesIdenticalLogitsAndBytes() throws {
        let tokenizer = Tokenizer(texts: ["one two three four five six seven eight"])
        var config = Self.config
        config.vocabSize = tokenizer.count
        let model = try VisionLanguageModel(config: config, seed: 5)
        let checkpoint = Checkpoint(model: model, tokenizer: tokenizer, info: ["stage": "test"])
        let path = Self.temporaryPath("model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try checkpoint.write(to: path)
        let loaded = try Checkpoint.read(from: path)
        #expect(loaded.model.parameters.values == model.parameters.values)
        #expect(loaded.model.config == config && loaded.tokenizer == tokenizer && loaded.info == ["stage": "test"])
        #expect(try loaded.encoded() == (try checkpoint.encoded()), "the same checkpoint, the same bytes")
        var random = SeededRandom(seed: 1)
        let images = (0..<(8 * 8 * 3)).map { _ in Float(random.uniform()) }
        let tokens: [Int32] = [1, 12, 13, 14]
        func logits(_ model: VisionLanguageModel) -> [Float] {
            let workspace = ModelWorkspace(model)
            return Array(UnsafeBufferPointer(start: workspace.forward(parameters: model.parameters.values, images: images, tokens: tokens, b: 1, t: 4),
                                             count: 4 * config.vocabSize))
        }
        #expect(logits(loaded.model) == logits(model))
    }

    @Test(arguments: [
        (Data([1, 2, 3]), "shorter than its header length"),
        (Data([255, 255, 255, 255, 0, 0, 0, 0, 1]), "header length"),
        (Data([2, 0, 0, 0, 0, 0, 0, 0]) + Data("[]".utf8), "the header is not a JSON object"),
    ])
    func badFilesAreRefused(data: Data, message: String) {
        #expect {
            _ = try Safetensors.decode(data, file: "x.safetensors")
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func offsetsOutsideTheFileAreRefused() throws {
        var data = try Safetensors.encode([Safetensors.Tensor(name: "w", shape: [2], values: [1, 2])], metadata: [:])
        data.removeLast(4)
        #expect(throws: ModelError.self) { try Safetensors.decode(data) }
        let wrongModel = try Safetensors.encode([Safetensors.Tensor(name: "w", shape: [2], values: [1, 2])],
                                                metadata: ["pipe.config": try Checkpoint.json(Self.config),
                                                           "pipe.tokenizer": try Checkpoint.json(Tokenizer(texts: []))])
        let path = Self.temporaryPath("wrong.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try wrongModel.write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelError.self) { try Checkpoint.read(from: path) }
    }

    /// The Python interpreter with `safetensors` and `numpy` that `make test` installs.
    static var python: String? {
        if let explicit = ProcessInfo.processInfo.environment["PIPE_TEST_PYTHON"] { return explicit }
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/pyenv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    @Test func pythonSafetensorsReadsTheCheckpoint() throws {
        let python = try #require(Self.python, "no Python with safetensors: run `make test` (it creates .build/pyenv) or set PIPE_TEST_PYTHON")
        let model = try VisionLanguageModel(config: Self.config, seed: 9)
        let path = Self.temporaryPath("py.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint(model: model, tokenizer: Tokenizer(texts: ["a b"])).write(to: path)
        let script = """
            import json, sys
            from safetensors.numpy import load_file
            from safetensors import safe_open
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="np") as f:
                meta = f.metadata()
            config = json.loads(meta["pipe.config"])
            w = tensors["decoder.blocks.0.attn.qkv.weight"]
            print(len(tensors), config["dim"], list(w.shape), repr(float(w.sum())), repr(float(tensors["vision.patch.weight"][3, 7])))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let parts = output.split(separator: " ")
        #expect(process.terminationStatus == 0)
        #expect(parts.count == 6)
        #expect(parts.first == "\(model.parameters.tensors.count)" && parts[1] == "8" && parts[2] == "[24," && parts[3] == "8]")
        let qkv = try #require(model.parameters.tensor("decoder.blocks.0.attn.qkv.weight"))
        let sum = model.parameters.values[qkv.offset..<(qkv.offset + qkv.count)].reduce(Float(0), +)
        #expect(abs(Double(parts[4])! - Double(sum)) < 1e-4)
        let patch = try #require(model.parameters.tensor("vision.patch.weight"))
        #expect(Float(Double(parts[5].trimmingCharacters(in: .whitespacesAndNewlines))!) == model.parameters.values[patch.offset + 3 * 48 + 7])
    }
}
