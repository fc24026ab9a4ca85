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
    /// The most pixels (width x height) an image may declare; a larger one is refused from its header.
    public var maxImagePixels = Image.defaultMaxPixels
    /// Refuse a damaged archive (a zip without its central directory), a path that appears twice and a
    /// repeated QA file, instead of warning and using the first copy.
    public var strict = false
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
        /// What was wrong with the archive but read anyway (see `strict`), one line each.
        public var warnings: [String]
    }

    /// Reads `archive`, writes the dataset into `output` (an existing empty directory).
    ///
    /// One pass reads the QA files and decodes each image a record already read needs; when an archive
    /// lists images before their QA file, a second pass decodes those. Images no kept record needs are
    /// skipped without decoding. Each warning (see `strict`) is also logged, as `warning: ...`.
    public func unpack(archive: String, into output: String, log: (String) -> Void = { _ in }) throws -> Summary {
        let clock = ContinuousClock()
        var phaseStart = clock.now
        func phase(_ name: String) {
            let now = clock.now
            log(String(format: "%@: %.3f s", name, Double((now - phaseStart) / .microseconds(1)) / 1e6))
            phaseStart = now
        }
        let pixels = try PixelFile(path: output + "/images.u8")
        var catalog = Catalog()
        var findings = ArchiveFindings(archive: archive, strict: strict)
        try readRecordsAndImages(archive, pixels: pixels, catalog: &catalog, findings: &findings, log: log)
        phase("pass 1")
        let warnings = findings.finish()
        for warning in warnings { log("warning: " + warning) }
        try checkRecords(catalog, archive: archive)
        for number in catalog.imagePaths.indices where !catalog.present[number] {
            catalog.skippedImage[number] = true
            catalog.skipped.append(catalog.imagePaths[number])
        }
        log("\(catalog.entries.count) records (\(catalog.total) in the archive), \(catalog.imagePaths.count) images")
        let remaining = catalog.imagePaths.indices.filter { catalog.rowOf[$0] < 0 && !catalog.skippedImage[$0] }
        if !remaining.isEmpty {
            try readImagesListedEarly(archive, pixels: pixels, catalog: &catalog, log: log)
            phase("pass 2 (\(remaining.count) images listed before their QA file)")
        }
        try pixels.close()
        let skippedRecords = try assignSplits(&catalog, log: log)
        let counts = Counts(catalog.entries)
        phase("splits")
        let images = catalog.imagesByRow
        let index = DatasetIndex(format: DatasetIndex.currentFormat, imageSize: size, channels: 3, images: images, records: catalog.entries)
        try index.write(to: output + "/index.json")
        phase("index.json")
        let summary = Summary(records: catalog.entries.count, images: images.count, bySplit: counts.bySplit, byModality: counts.byModality,
                              byQuestionType: counts.byQuestionType, byAnswerLetter: counts.byAnswerLetter, skippedImages: catalog.skipped.sorted(),
                              skippedRecords: skippedRecords, warnings: warnings)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: output + "/metrics.json"))
        phase("metrics.json")
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
        // A path that would leave the archive matches no entry and is reported missing.
        ArchivePath.normalize(imagePath) ?? imagePath
    }
}
