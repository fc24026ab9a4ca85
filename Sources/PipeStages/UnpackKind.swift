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

    public var schema: OptionSchema? {
        OptionSchema([
            .init("path", .path, default: .null, help: "the archive, e.g. datasets/OmniMedVQA.zip (or give an input `archive`)"),
            .init("size", .int(8...1024), default: .int(64), help: "image side in pixels after resizing"),
            .init("split", .group(OptionSchema([
                .init("test", .number(0...1), default: .double(0.2), help: "fraction of images for test"),
                .init("val", .number(0...1), default: .double(0.1), help: "fraction of images for validation"),
            ])), default: nil, help: "split fractions"),
            .init("holdout_modality", .textList(nil), default: .list([]), help: "modalities that form the whole test split"),
            .init("train_modalities", .textList(nil), default: .list([]),
                  help: "train and val keep only these modalities; test keeps all (a cross-modality matrix)"),
            .init("train_question_types", .textList(nil), default: .list([]),
                  help: "train and val keep only these question types; test keeps all"),
            .init("modalities", .textList(nil), default: .list([]), help: "keep only these modalities"),
            .init("question_types", .textList(nil), default: .list([]), help: "keep only these question types"),
            .init("on_bad_image", .text(["error", "skip"]), default: .string("error"), help: "what to do with an undecodable or missing image"),
            .init("limits", .group(OptionSchema([
                .init("max_entries", .int(1...Int.max), default: .int(2_000_000), help: "most archive entries"),
                .init("max_total_bytes", .int(1...Int.max), default: .int(64 << 30), help: "most uncompressed bytes"),
                .init("max_compression_ratio", .number(1...1e9), default: .double(200), help: "most uncompressed bytes per compressed byte"),
                .init("max_image_pixels", .int(1...Int.max), default: .int(50_000_000),
                      help: "most pixels (width x height) an image may declare; checked before decoding"),
            ])), default: nil, help: "archive-bomb and image-size limits"),
            .init("strict", .bool, default: .bool(false),
                  help: "refuse a zip without its central directory, a path that appears twice and a repeated QA file (default: warn, use the first copy)"),
        ])
    }

    public func action(for stage: ResolvedStage) throws -> JobAction {
        let options = stage.options
        var unpacker = DatasetUnpacker()
        if case .int(let size)? = options["size"] { unpacker.size = size }
        unpacker.splits = SplitPlan(test: options["split"]?["test"]?.number ?? 0.2, val: options["split"]?["val"]?.number ?? 0.1,
                                    holdoutModalities: Set(options["holdout_modality"]?.texts ?? []),
                                    trainModalities: Set(options["train_modalities"]?.texts ?? []),
                                    trainQuestionTypes: Set(options["train_question_types"]?.texts ?? []))
        unpacker.modalities = Set(options["modalities"]?.texts ?? [])
        unpacker.questionTypes = Set(options["question_types"]?.texts ?? [])
        unpacker.onBadImage = options["on_bad_image"] == .string("skip") ? .skip : .error
        let limits = options["limits"]
        unpacker.limits = ArchiveLimits(maxEntries: limits?["max_entries"]?.integer ?? 2_000_000,
                                        maxTotalBytes: Int64(limits?["max_total_bytes"]?.integer ?? 64 << 30),
                                        maxCompressionRatio: limits?["max_compression_ratio"]?.number ?? 200)
        unpacker.maxImagePixels = limits?["max_image_pixels"]?.integer ?? 50_000_000
        unpacker.strict = options["strict"]?.flag ?? false
        unpacker.seed = UInt64(stage.seed)
        var archive: String?
        if case .string(let path)? = options["path"] {
            archive = path.hasPrefix("/") ? path : stage.recipeDirectory + "/" + path
        }
        let hasInput = stage.stage.inputs.contains { $0.role == "archive" }
        guard (archive != nil) != hasInput else {
            throw RecipeError(stage.stage.location, path: "stages.\(stage.stage.name)",
                              archive == nil ? "an unpack stage needs `with: {path: ...}` or `inputs: {archive: STAGE}`"
                                             : "give either `with.path` or an `archive` input, not both")
        }
        return UnpackAction(unpacker: unpacker, archive: archive, stage: stage.stage.name)
    }
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
