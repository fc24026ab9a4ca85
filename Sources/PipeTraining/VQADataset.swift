import Foundation
import PipeData
import PipeModel

/// A dataset artifact of `unpack` in memory: the records with their splits and the images as
/// floats in [0, 1], (N, H, W, 3).
public struct VQADataset: Sendable {
    public var index: DatasetIndex
    public var pixels: [Float]
    public var imageSize: Int { index.imageSize }
    public var imagePixels: Int { index.imageSize * index.imageSize * 3 }

    /// Reads `index.json` and `images.u8` from `directory`.
    public init(directory: String) throws {
        do {
            index = try DatasetIndex.read(from: directory + "/index.json")
        } catch {
            throw TrainingError("cannot read the dataset in \(directory): \(error); give an `unpack` stage as the `dataset` input")
        }
        guard let bytes = FileManager.default.contents(atPath: directory + "/images.u8") else {
            throw TrainingError("cannot read \(directory)/images.u8")
        }
        let expected = index.images.count * index.imageSize * index.imageSize * index.channels
        guard index.channels == 3, bytes.count == expected else {
            throw TrainingError("\(directory)/images.u8 holds \(bytes.count) bytes; the index describes \(expected)")
        }
        pixels = bytes.map { Float($0) / 255 }
    }

    /// The records of a split.
    public func records(_ split: Split) -> [DatasetIndex.Entry] { index.records.filter { $0.split == split } }

    /// Every text the model will read or write, for building a tokenizer: questions, options,
    /// modality names, the instructions and the rationale vocabulary.
    public func vocabularyTexts() -> [String] {
        var texts = ReasoningMode.allCases.map { Prompting.instruction($0) }
        texts.append(Prompting.rationale(modality: "x", anatomy: "x", finding: "x", grade: "x", answer: "x", options: ["x", "y"]))
        texts.append("A: B: C: D:")
        for entry in index.records {
            texts.append(entry.record.question)
            texts.append(contentsOf: entry.record.options)
            texts.append(entry.record.modality)
        }
        return texts
    }
}

/// A training problem with a clear message (bad config, empty data, a diverging loss).
public struct TrainingError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
