import Foundation
import PipeArchive
import PipeData
import PipeEngine
import PipeRecipe

/// `kind: unpack`: an OmniMedVQA-layout archive (`with.path`, or the single archive in the input
/// `archive`) to a dataset artifact: `images.u8`, `index.json`, `metrics.json`.
public struct UnpackKind: StageKind {
    public let name = "unpack"
    public let version = 1

    public init() {}

    public let summary = "unpacks and validates a dataset archive, decodes every image, writes splits"

    public let inputs = [
        KindInput("archive", "a stage whose output holds exactly one archive (.zip, .tar, .tar.gz, .tgz, .tar.xz or .tar.zst), such as synth",
                  required: false, note: "exactly one of it and `with.path`"),
    ]

    public let outputs = [
        KindOutput("images.u8", "every image decoded and resized to size x size RGB, one after the other"),
        KindOutput("index.json", "the records (question, options, answer, modality, question type, split) and where each image is"),
        KindOutput("metrics.json", "counts by split, modality and question type, and the warnings"),
    ]

    static let path = OptionKey<String?>.path("path", help: "the archive, e.g. datasets/OmniMedVQA.zip (or give an input `archive`)")
    static let size = OptionKey<Int>("size", 8...1024, default: 64, help: "image side in pixels after resizing")

    /// The `split:` group: split fractions.
    enum Splits {
        static let test = OptionKey<Double>("test", 0...1, default: 0.2, help: "fraction of images for test")
        static let val = OptionKey<Double>("val", 0...1, default: 0.1, help: "fraction of images for validation")
        static let group = OptionKey<OptionValues>("split", group: [test, val], help: "split fractions")
    }

    static let holdoutModality = OptionKey<[String]>("holdout_modality", choices: nil, help: "modalities that form the whole test split")
    static let trainModalities = OptionKey<[String]>("train_modalities", choices: nil,
                                                     help: "train and val keep only these modalities; test keeps all (a cross-modality matrix)")
    static let trainQuestionTypes = OptionKey<[String]>("train_question_types", choices: nil,
                                                        help: "train and val keep only these question types; test keeps all")
    static let modalities = OptionKey<[String]>("modalities", choices: nil, help: "keep only these modalities")
    static let questionTypes = OptionKey<[String]>("question_types", choices: nil, help: "keep only these question types")
    static let onBadImage = OptionKey<DatasetUnpacker.BadImagePolicy>("on_bad_image", default: .error, help: "what to do with an undecodable or missing image")

    /// The `limits:` group: archive-bomb and image-size limits.
    enum Limits {
        static let maxEntries = OptionKey<Int>("max_entries", 1...Int.max, default: 2_000_000, help: "most archive entries")
        static let maxTotalBytes = OptionKey<Int>("max_total_bytes", 1...Int.max, default: 64 << 30, help: "most uncompressed bytes")
        static let maxCompressionRatio = OptionKey<Double>("max_compression_ratio", 1...1e9, default: 200, help: "most uncompressed bytes per compressed byte")
        static let maxImagePixels = OptionKey<Int>("max_image_pixels", 1...Int.max, default: 50_000_000,
                                                   help: "most pixels (width x height) an image may declare; checked before decoding")
        static let group = OptionKey<OptionValues>("limits", group: [maxEntries, maxTotalBytes, maxCompressionRatio, maxImagePixels],
                                                   help: "archive-bomb and image-size limits")
    }

    static let strict = OptionKey<Bool>(
        "strict", default: false,
        help: "refuse a zip without its central directory, a path that appears twice and a repeated QA file (default: warn, use the first copy)")

    public var schema: OptionSchema? {
        OptionSchema(keys: [Self.path, Self.size, Splits.group, Self.holdoutModality, Self.trainModalities, Self.trainQuestionTypes,
                            Self.modalities, Self.questionTypes, Self.onBadImage, Limits.group, Self.strict])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let o = stage.values
        var unpacker = DatasetUnpacker()
        unpacker.size = try o[Self.size]
        let splits = try o[Splits.group]
        unpacker.splits = SplitPlan(test: try splits[Splits.test], val: try splits[Splits.val],
                                    holdoutModalities: Set(try o[Self.holdoutModality]),
                                    trainModalities: Set(try o[Self.trainModalities]),
                                    trainQuestionTypes: Set(try o[Self.trainQuestionTypes]))
        unpacker.modalities = Set(try o[Self.modalities])
        unpacker.questionTypes = Set(try o[Self.questionTypes])
        unpacker.onBadImage = try o[Self.onBadImage]
        let limits = try o[Limits.group]
        unpacker.limits = ArchiveLimits(maxEntries: try limits[Limits.maxEntries], maxTotalBytes: Int64(try limits[Limits.maxTotalBytes]),
                                        maxCompressionRatio: try limits[Limits.maxCompressionRatio])
        unpacker.maxImagePixels = try limits[Limits.maxImagePixels]
        unpacker.strict = try o[Self.strict]
        unpacker.seed = UInt64(stage.seed)
        let archive = try o[Self.path].map { $0.hasPrefix("/") ? $0 : stage.recipeDirectory + "/" + $0 }
        let hasInput = stage.stage.inputs.contains { $0.role == "archive" }
        guard (archive != nil) != hasInput else {
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name)",
                              archive == nil ? "an unpack stage needs `with: {path: ...}` or `inputs: {archive: STAGE}`"
                                             : "give either `with.path` or an `archive` input, not both")
        }
        return UnpackAction(unpacker: unpacker, archive: archive, stage: stage.stage.name)
    }
}

extension DatasetUnpacker.BadImagePolicy: OptionChoice {
    public static var optionChoices: [DatasetUnpacker.BadImagePolicy] { [.error, .skip] }
}

struct UnpackAction: JobAction {
    var unpacker: DatasetUnpacker
    var archive: String?
    var stage: String

    func run(_ context: JobContext) throws {
        let source = try archive ?? Self.findArchive(in: context.inputDirectories["archive"] ?? "")
        // Checked when the job was built too; checked again here, unopened, as the file may have changed since.
        do {
            close(try FileSystem.openRegularFile(source))
        } catch {
            throw JobFailure("cannot read the archive: \(error)")
        }
        do {
            let summary = try unpacker.unpack(archive: source, into: context.outputDirectory, log: context.log)
            context.log("unpacked \(summary.records) records, \(summary.images) images: \(summary.bySplit)")
            // The log holds them too, but a successful stage's log is not shown.
            for warning in summary.warnings { FileHandle.standardError.write(Data("warning: stage `\(stage)`: \(warning)\n".utf8)) }
        } catch let error as DatasetError {
            throw JobFailure(error.description)
        } catch let error as ArchiveError {
            throw JobFailure(error.description)
        }
    }

    static let extensions = [".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst"]

    /// The single archive file in an input artifact.
    static func findArchive(in directory: String) throws -> String {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { name in extensions.contains { name.hasSuffix($0) } }.sorted()
        guard files.count == 1 else {
            throw JobFailure("the `archive` input must hold exactly one archive (\(extensions.joined(separator: ", "))); it holds \(files.isEmpty ? "none" : files.joined(separator: ", "))")
        }
        return directory + "/" + files[0]
    }
}
