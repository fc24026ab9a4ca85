import Foundation
import PipeArchive
import PipeData
import PipeEngine
import PipeRecipe
import PipeSynth

/// `kind: synth`: the procedural medical VQA benchmark as an OmniMedVQA-layout archive
/// (`SynthMedVQA.zip` or `.tar.gz`, ...) plus `metrics.json` with its counts.
public struct SynthKind: StageKind {
    public let name = "synth"
    public let version = 1

    public init() {}

    static let questionTypes = QuestionType.allCases.map(\.rawValue)
    static let formats = ["zip", "tar.gz", "tar.xz", "tar.zst"]

    public var schema: OptionSchema? {
        OptionSchema([
            .init("images", .int(1...10_000_000), default: .int(1000), help: "how many images (each gets one question of every type)"),
            .init("size", .int(8...1024), default: .int(64), help: "image side in pixels"),
            .init("modalities", .textList(SynthGenerator.modalityNames), default: .list([]), help: "modalities to draw (empty: all eight)"),
            .init("question_types", .textList(Self.questionTypes), default: .list([]), help: "question types to ask (empty: all five)"),
            .init("difficulty", .text(Difficulty.presets.keys.sorted()), default: .string("medium"), help: "preset for the five knobs below"),
            .init("noise", .number(0...1), default: .null, help: "Gaussian pixel noise (std, intensity in 0...1); default from `difficulty`"),
            .init("blur", .number(0...16), default: .null, help: "box-blur radius in pixels at 64x64; default from `difficulty`"),
            .init("contrast", .number(0...1), default: .null, help: "global contrast (1: full); default from `difficulty`"),
            .init("distractor_similarity", .number(0...1), default: .null,
                  help: "chance that distractors are the answer's look-alike neighbours; default from `difficulty`"),
            .init("lesion_subtlety", .number(0...1), default: .null, help: "0: lesions fully visible, 1: faint; default from `difficulty`"),
            .init("options", .group(OptionSchema([
                .init("min", .int(2...4), default: .int(2), help: "fewest options per question"),
                .init("max", .int(2...4), default: .int(4), help: "most options per question"),
            ])), default: nil, help: "options per question, drawn uniformly"),
            .init("chains", .bool, default: .bool(true), help: "mark each image's modality/anatomy/grade/diagnosis questions as a stepwise chain"),
            .init("quality", .int(1...100), default: .int(90), help: "JPEG quality"),
            .init("format", .text(Self.formats), default: .string("zip"), help: "archive format"),
        ])
    }

    public func options(of stage: Stage) throws -> Value {
        guard let schema else { return .null }
        let path = "stages.\(stage.name).with"
        let options = try schema.resolve(stage.with, path: path)
        let counts = options["options"]
        if let low = counts?["min"]?.integer, let high = counts?["max"]?.integer, low > high {
            let node = stage.with["options"] ?? stage.with
            throw RecipeError(node.location, path: "\(path).options", "`min` (\(low)) is larger than `max` (\(high))",
                              hint: "for a fixed number of options give the same value to both")
        }
        if let modalities = options["modalities"]?.texts, modalities.count == 1,
           options["question_types"]?.texts?.contains(QuestionType.modality.rawValue) == true {
            let node = stage.with["question_types"] ?? stage.with
            throw RecipeError(node.location, path: "\(path).question_types",
                              "Modality Recognition needs at least two modalities to choose between; `modalities` has only \(modalities[0])",
                              hint: "add a modality or drop Modality Recognition from `question_types`")
        }
        return options
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let options = stage.options
        var config = SynthConfig()
        config.images = options["images"]?.integer ?? 1000
        config.size = options["size"]?.integer ?? 64
        if let modalities = options["modalities"]?.texts, !modalities.isEmpty { config.modalities = modalities }
        if let types = options["question_types"]?.texts, !types.isEmpty {
            config.questionTypes = QuestionType.allCases.filter { types.contains($0.rawValue) }
        }
        var difficulty = Difficulty.presets[options["difficulty"]?.text ?? "medium"] ?? Difficulty.presets["medium"]!
        if let v = options["noise"]?.number { difficulty.noise = v }
        if let v = options["blur"]?.number { difficulty.blur = v }
        if let v = options["contrast"]?.number { difficulty.contrast = v }
        if let v = options["distractor_similarity"]?.number { difficulty.distractorSimilarity = v }
        if let v = options["lesion_subtlety"]?.number { difficulty.lesionSubtlety = v }
        config.difficulty = difficulty
        config.optionCounts = (options["options"]?["min"]?.integer ?? 2)...(options["options"]?["max"]?.integer ?? 4)
        config.chains = options["chains"] != .bool(false)
        config.jpegQuality = options["quality"]?.integer ?? 90
        config.format = ArchiveWriter.Format(rawValue: options["format"]?.text ?? "zip") ?? .zip
        config.seed = UInt64(stage.seed)
        // The output does not depend on the thread count, so it stays out of the options and the key.
        config.threads = ProcessInfo.processInfo.activeProcessorCount
        do {
            return SynthAction(generator: try SynthGenerator(config))
        } catch let error as DatasetError {
            throw RecipeError(stage.stage.with.location, path: "stages.\(stage.stage.name).with", error.description)
        }
    }
}

struct SynthAction: JobAction {
    var generator: SynthGenerator

    func run(_ context: JobContext) throws {
        let config = generator.config
        let archive = context.outputDirectory + "/SynthMedVQA." + config.format.rawValue
        let start = Date()
        let summary: SynthSummary
        do {
            summary = try generator.write(to: archive) { done in
                if done % 2048 < 256 || done == config.images { context.log("\(done)/\(config.images) images") }
                return !context.cancellation.isCancelled
            }
        } catch let error as DatasetError {
            throw JobFailure(error.description)
        } catch let error as ArchiveError {
            throw JobFailure(error.description)
        }
        let seconds = Date().timeIntervalSince(start)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int) ?? 0
        context.log(String(format: "%d images, %d records, %.1f MB archive in %.2f s (%.0f images/s on %d threads)",
                           summary.images, summary.records, Double(bytes) / 1e6, seconds,
                           Double(summary.images) / max(seconds, 1e-9), config.threads))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: context.outputDirectory + "/metrics.json"))
    }
}
