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

    public let summary = "procedurally generates a medical VQA benchmark in the OmniMedVQA layout"

    public let outputs = [
        KindOutput("SynthMedVQA.zip", "the benchmark archive (or .tar.gz, .tar.xz, .tar.zst by `format`), ready for an unpack stage"),
        KindOutput("metrics.json", "its counts: images, records, by modality and question type"),
    ]

    static let questionTypes = QuestionType.allCases.map(\.rawValue)

    static let images = OptionKey<Int>("images", 1...10_000_000, default: 1000, help: "how many images (each gets one question of every type)")
    static let size = OptionKey<Int>("size", 8...1024, default: 64, help: "image side in pixels")
    static let modalities = OptionKey<[String]>("modalities", choices: SynthGenerator.modalityNames, help: "modalities to draw (empty: all eight)")
    static let questionTypeList = OptionKey<[String]>("question_types", choices: questionTypes, help: "question types to ask (empty: all five)")
    static let difficulty = OptionKey<String>("difficulty", choices: Difficulty.presets.keys.sorted(), default: "medium",
                                              help: "preset for the five knobs below")
    static let noise = OptionKey<Double?>("noise", 0...1, help: "Gaussian pixel noise (std, intensity in 0...1); default from `difficulty`")
    static let blur = OptionKey<Double?>("blur", 0...16, help: "box-blur radius in pixels at 64x64; default from `difficulty`")
    static let contrast = OptionKey<Double?>("contrast", 0...1, help: "global contrast (1: full); default from `difficulty`")
    static let distractorSimilarity = OptionKey<Double?>("distractor_similarity", 0...1,
                                                         help: "chance that distractors are the answer's look-alike neighbours; default from `difficulty`")
    static let lesionSubtlety = OptionKey<Double?>("lesion_subtlety", 0...1, help: "0: lesions fully visible, 1: faint; default from `difficulty`")

    /// The `options:` group: how many answer options a question has.
    enum OptionCount {
        static let min = OptionKey<Int>("min", 2...4, default: 2, help: "fewest options per question")
        static let max = OptionKey<Int>("max", 2...4, default: 4, help: "most options per question")
        static let group = OptionKey<OptionValues>("options", group: [min, max], help: "options per question, drawn uniformly")
    }

    static let chains = OptionKey<Bool>("chains", default: true, help: "mark each image's modality/anatomy/grade/diagnosis questions as a stepwise chain")
    static let quality = OptionKey<Int>("quality", 1...100, default: 90, help: "JPEG quality")
    static let format = OptionKey<ArchiveWriter.Format>("format", default: .zip, help: "archive format")

    public var schema: OptionSchema? {
        OptionSchema(keys: [Self.images, Self.size, Self.modalities, Self.questionTypeList, Self.difficulty, Self.noise, Self.blur, Self.contrast,
                            Self.distractorSimilarity, Self.lesionSubtlety, OptionCount.group, Self.chains, Self.quality, Self.format])
    }

    public func options(of stage: Stage) throws -> Value {
        guard let schema else { return .null }
        let path = "stages.\(stage.name).with"
        let resolved = try schema.resolve(stage.with, path: path)
        let o = OptionValues(resolved, location: stage.with.location, path: path)
        let counts = try o[OptionCount.group]
        let (low, high) = (try counts[OptionCount.min], try counts[OptionCount.max])
        if low > high {
            let node = stage.with[OptionCount.group.name] ?? stage.with
            throw RecipeError(node.location, path: "\(path).options", "`min` (\(low)) is larger than `max` (\(high))",
                              hint: "for a fixed number of options give the same value to both")
        }
        let modalities = try o[Self.modalities]
        if modalities.count == 1, try o[Self.questionTypeList].contains(QuestionType.modality.rawValue) {
            let node = stage.with[Self.questionTypeList.name] ?? stage.with
            throw RecipeError(node.location, path: "\(path).question_types",
                              "Modality Recognition needs at least two modalities to choose between; `modalities` has only \(modalities[0])",
                              hint: "add a modality or drop Modality Recognition from `question_types`")
        }
        return resolved
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let o = stage.values
        var config = SynthConfig()
        config.images = try o[Self.images]
        config.size = try o[Self.size]
        let modalities = try o[Self.modalities], types = try o[Self.questionTypeList]
        if !modalities.isEmpty { config.modalities = modalities }
        if !types.isEmpty { config.questionTypes = QuestionType.allCases.filter { types.contains($0.rawValue) } }
        let preset = try o[Self.difficulty]
        guard var difficulty = Difficulty.presets[preset] else {
            throw RecipeError(stage.stage.with.location, path: "stages.\(stage.stage.name).with.difficulty", "internal error: no difficulty preset `\(preset)`")
        }
        if let v = try o[Self.noise] { difficulty.noise = v }
        if let v = try o[Self.blur] { difficulty.blur = v }
        if let v = try o[Self.contrast] { difficulty.contrast = v }
        if let v = try o[Self.distractorSimilarity] { difficulty.distractorSimilarity = v }
        if let v = try o[Self.lesionSubtlety] { difficulty.lesionSubtlety = v }
        config.difficulty = difficulty
        let counts = try o[OptionCount.group]
        config.optionCounts = try counts[OptionCount.min]...counts[OptionCount.max]
        config.chains = try o[Self.chains]
        config.jpegQuality = try o[Self.quality]
        config.format = try o[Self.format]
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

extension ArchiveWriter.Format: OptionChoice {
    public static var optionChoices: [ArchiveWriter.Format] { [.zip, .tarGzip, .tarXz, .tarZstd] }
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
