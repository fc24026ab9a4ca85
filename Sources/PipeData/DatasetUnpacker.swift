import Foundation
import PipeArchive
import PipeImaging

/// Turns an OmniMedVQA-layout archive into a training-ready dataset directory:
/// `images.u8` (N x size x size x 3 bytes, row-major RGB), `index.json` (every record with its image
/// row and split) and `metrics.json` (counts). Two streaming passes over the archive keep memory
/// bounded: the QA files first, then only the images the kept records need.
public struct DatasetUnpacker: Sendable {
    public enum BadImagePolicy: String, Sendable { case error, skip }

    public var size = 64
    public var splits = SplitPlan()
    /// Keep only these modalities / question types (empty: all).
    public var modalities: Set<String> = []
    public var questionTypes: Set<String> = []
    public var onBadImage = BadImagePolicy.error
    public var limits = ArchiveLimits()
    public var seed: UInt64 = 0

    public init() {}

    /// What an unpack produced.
    public struct Summary: Codable, Equatable, Sendable {
        public var records: Int
        public var images: Int
        public var bySplit: [String: Int]
        public var byModality: [String: Int]
        public var byQuestionType: [String: Int]
        public var byAnswerLetter: [String: Int]
        /// Images that could not be decoded (with `on_bad_image: skip`), and records dropped with them.
        public var skippedImages: [String]
        public var skippedRecords: Int
    }

    /// Reads `archive`, writes the dataset into `output` (an existing empty directory).
    public func unpack(archive: String, into output: String, log: (String) -> Void = { _ in }) throws -> Summary {
        // Pass 1: the QA files.
        var records: [VQARecord] = []
        var imageEntries = Set<String>()
        // The dataset root inside the archive: "" or a top folder such as "OmniMedVQA/".
        var root: String?
        try ArchiveReader(path: archive, limits: limits).forEach { entry, read in
            guard entry.kind == .file else { return }
            if let qaRoot = Self.root(ofQAFile: entry.path) {
                if let root, root != qaRoot {
                    throw DatasetError("\(entry.path): QA files under two roots (`\(root)` and `\(qaRoot)`); an archive holds one dataset root")
                }
                root = qaRoot
                records += try OmniMedVQA.records(from: try read(), file: entry.path)
            } else {
                imageEntries.insert(entry.path)
            }
        }
        let prefix = root ?? ""
        func entryPath(_ imagePath: String) -> String { prefix + Self.entryPath(imagePath) }
        guard !records.isEmpty else {
            throw DatasetError("\(archive): no records in \(OmniMedVQA.qaDirectory)/*.json; is this an OmniMedVQA-layout archive?")
        }
        let total = records.count
        let allModalities = Set(records.map(\.modality)).sorted()
        let allTypes = Set(records.map(\.questionType)).sorted()
        records = records.filter {
            (modalities.isEmpty || modalities.contains($0.modality)) && (questionTypes.isEmpty || questionTypes.contains($0.questionType))
        }
        guard !records.isEmpty else {
            throw DatasetError("no records left after the modality/question-type filters (\(total) before); the archive has modalities "
                               + allModalities.joined(separator: ", ") + " and question types " + allTypes.joined(separator: ", "))
        }
        let missing = records.filter { !imageEntries.contains(entryPath($0.imagePath)) }
        if !missing.isEmpty && onBadImage == .error {
            throw DatasetError("\(missing.count) records name an image missing from the archive, e.g. "
                               + missing.prefix(5).map { "\($0.questionID) (\($0.imagePath))" }.joined(separator: ", ")
                               + "; set on_bad_image: skip to drop them")
        }
        var skipped = Set(missing.map { entryPath($0.imagePath) })
        log("\(records.count) records (\(total) in the archive), \(Set(records.map(\.imagePath)).count) images")

        // Pass 2: decode, resize and append each needed image once, in archive order.
        let needed = Set(records.map { entryPath($0.imagePath) }).subtracting(skipped)
        let pixelsPath = output + "/images.u8"
        guard FileManager.default.createFile(atPath: pixelsPath, contents: nil),
              let pixels = FileHandle(forWritingAtPath: pixelsPath) else {
            throw DatasetError("cannot write \(pixelsPath)")
        }
        defer { try? pixels.close() }
        var rows: [String: Int] = [:]
        try ArchiveReader(path: archive, limits: limits).forEach { entry, read in
            guard entry.kind == .file, needed.contains(entry.path), rows[entry.path] == nil else { return }
            let image: Image
            do {
                image = try Image(decoding: try read())
            } catch let error as ImageError {
                if onBadImage == .skip {
                    skipped.insert(entry.path)
                    log("skipped \(entry.path): \(error)")
                    return
                }
                throw DatasetError("image \(entry.path): \(error); set on_bad_image: skip to drop it and its records")
            }
            try pixels.write(contentsOf: image.rgb.resized(width: size, height: size).pixels)
            rows[entry.path] = rows.count
        }

        // Records of skipped images are dropped; the rest get their row and split.
        let kept = records.filter { rows[entryPath($0.imagePath)] != nil }
        let assigned = splits.assign(kept, seed: seed)
        let images = rows.sorted { $0.value < $1.value }.map(\.key)
        let index = DatasetIndex(format: DatasetIndex.currentFormat, imageSize: size, channels: 3, images: images,
                                 records: zip(kept, assigned).map { record, split in
                                     DatasetIndex.Entry(record: record, image: rows[entryPath(record.imagePath)]!, split: split)
                                 })
        try index.write(to: output + "/index.json")
        func counts(_ key: (DatasetIndex.Entry) -> String) -> [String: Int] {
            index.records.reduce(into: [:]) { $0[key($1), default: 0] += 1 }
        }
        let summary = Summary(records: kept.count, images: images.count, bySplit: counts { $0.split.rawValue },
                              byModality: counts { $0.record.modality }, byQuestionType: counts { $0.record.questionType },
                              byAnswerLetter: counts { $0.record.answerLetter }, skippedImages: skipped.sorted(),
                              skippedRecords: records.count - kept.count)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: output + "/metrics.json"))
        return summary
    }

    /// For `QA_information/Open-access/X.json` under the archive's top or under one folder, that folder
    /// ("" or "Folder/"); nil for any other path.
    static func root(ofQAFile path: String) -> String? {
        guard path.hasSuffix(".json"), let range = path.range(of: OmniMedVQA.qaDirectory + "/") else { return nil }
        let root = String(path[..<range.lowerBound])
        let name = path[range.upperBound...]
        guard !name.contains("/"), root.isEmpty || (root.hasSuffix("/") && root.dropLast().split(separator: "/").count == 1) else { return nil }
        return root
    }

    /// An `image_path` as an archive entry path (normalized the way the reader normalizes entries).
    static func entryPath(_ imagePath: String) -> String {
        imagePath.split(separator: "/").filter { $0 != "." && !$0.isEmpty }.joined(separator: "/")
    }
}

/// `index.json` of a dataset artifact.
public struct DatasetIndex: Codable, Equatable, Sendable {
    public static let currentFormat = "pipe-vqa 1"

    public struct Entry: Codable, Equatable, Sendable {
        public var record: VQARecord
        /// The row of `images.u8` holding this record's image.
        public var image: Int
        public var split: Split
    }

    public var format: String
    public var imageSize: Int
    public var channels: Int
    /// Archive paths of the images, by row.
    public var images: [String]
    public var records: [Entry]

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    public static func read(from path: String) throws -> DatasetIndex {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        let index = try JSONDecoder().decode(DatasetIndex.self, from: data)
        guard index.format == currentFormat else { throw DatasetError("\(path): unsupported dataset format \(index.format)") }
        return index
    }
}
