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
        // The kept records, built as index entries from the start (their image row is set after the
        // passes, their split after that): copying 50,000 records later costs more than the splits.
        var entries: [DatasetIndex.Entry] = []
        /// Each kept record's image, as its number: images are numbered as records first name them.
        var imageOfEntry: [Int] = []
        /// By image number: the archive entry, the row in `images.u8` (-1 until decoded), whether the
        /// archive holds it, whether it was skipped.
        var imagePaths: [String] = [], rowOf: [Int] = [], present: [Bool] = [], skippedImage: [Bool] = []
        var imageNumbers: [String: Int] = [:]
        var rows = 0
        /// Files read before any record named them (images listed before their QA file).
        var unclaimed = Set<String>()
        var skipped: [String] = []
        var total = 0
        var allModalities = Set<String>(), allTypes = Set<String>()
        var root: String?
        var findings = ArchiveFindings(archive: archive, strict: strict)
        var qaPaths = Set<String>()

        func decode(_ number: Int, _ read: () throws -> Data) throws {
            let path = imagePaths[number]
            let data = try read()
            let image: Image
            do {
                // An RGB JPEG of the target size (the synthetic benchmark's) decodes straight into the pixel file.
                if try pixels.appendJPEG(data, side: size, maxPixels: maxImagePixels) {
                    rowOf[number] = rows
                    rows += 1
                    return
                }
                image = try Image(decoding: data, maxPixels: maxImagePixels)
            } catch let error as ImageError {
                guard onBadImage == .skip else {
                    let pixelLimit = if case .tooLarge(let message) = error, message.hasSuffix(" pixels") { true } else { false }
                    let hint = pixelLimit ? " (limits.max_image_pixels raises the pixel limit)" : ""
                    throw DatasetError("image \(path): \(error)\(hint); set on_bad_image: skip to drop it and its records")
                }
                skippedImage[number] = true
                skipped.append(path)
                log("skipped \(path): \(error)")
                return
            }
            try pixels.append(image.rgb.resized(width: size, height: size).pixels)
            rowOf[number] = rows
            rows += 1
        }

        let reader = try ArchiveReader(path: archive, limits: limits)
        try findings.damaged(reader.damage)
        try reader.forEach { entry, read in
            guard entry.kind == .file else { return }
            if let qaRoot = Self.root(ofQAFile: entry.path) {
                if let root, root != qaRoot {
                    throw DatasetError("\(entry.path): QA files under two roots (`\(root)` and `\(qaRoot)`); an archive holds one dataset root")
                }
                root = qaRoot
                guard qaPaths.insert(entry.path).inserted else { return try findings.duplicate(entry.path) }
                let data = try read()
                guard try !findings.repeatsQAFile(entry.path, data) else { return }
                // A file lists the questions of one image together, and repeated fields share their
                // strings: comparing with the previous record's is mostly an identity check.
                var lastImagePath: String?, lastNumber = 0, lastModality: String?, lastType: String?
                try OmniMedVQA.forEachRecord(in: data, file: entry.path) { record in
                    total += 1
                    if record.modality != lastModality {
                        allModalities.insert(record.modality)
                        lastModality = record.modality
                    }
                    if record.questionType != lastType {
                        allTypes.insert(record.questionType)
                        lastType = record.questionType
                    }
                    guard (modalities.isEmpty || modalities.contains(record.modality)),
                          (questionTypes.isEmpty || questionTypes.contains(record.questionType)) else { return }
                    if record.imagePath != lastImagePath {
                        let path = qaRoot + Self.entryPath(record.imagePath)
                        if let number = imageNumbers[path] {
                            lastNumber = number
                        } else {
                            lastNumber = imagePaths.count
                            imageNumbers[path] = lastNumber
                            imagePaths.append(path)
                            rowOf.append(-1)
                            skippedImage.append(false)
                            present.append(unclaimed.remove(path) != nil)
                        }
                        lastImagePath = record.imagePath
                    }
                    entries.append(DatasetIndex.Entry(record: record, image: -1, split: .train))
                    imageOfEntry.append(lastNumber)
                }
            } else if let number = imageNumbers[entry.path] {
                // Present already: an earlier entry had this path (before or after its record).
                guard !present[number] else { return try findings.duplicate(entry.path) }
                present[number] = true
                if rowOf[number] < 0, !skippedImage[number] { try decode(number, read) }
            } else if !unclaimed.insert(entry.path).inserted {
                try findings.duplicate(entry.path)
            }
        }
        phase("pass 1")
        let warnings = findings.finish()
        for warning in warnings { log("warning: " + warning) }
        guard total > 0 else {
            throw DatasetError("\(archive): no records in \(OmniMedVQA.qaDirectory)/*.json; is this an OmniMedVQA-layout archive?")
        }
        guard !entries.isEmpty else {
            throw DatasetError("no records left after the modality/question-type filters (\(total) before); the archive has modalities "
                               + allModalities.sorted().joined(separator: ", ") + " and question types " + allTypes.sorted().joined(separator: ", "))
        }
        let missing = entries.indices.filter { !present[imageOfEntry[$0]] }
        if !missing.isEmpty && onBadImage == .error {
            throw DatasetError("\(missing.count) records name an image missing from the archive, e.g. "
                               + missing.prefix(5).map { "\(entries[$0].record.questionID) (\(entries[$0].record.imagePath))" }
                                 .joined(separator: ", ")
                               + "; set on_bad_image: skip to drop them")
        }
        for number in imagePaths.indices where !present[number] {
            skippedImage[number] = true
            skipped.append(imagePaths[number])
        }
        log("\(entries.count) records (\(total) in the archive), \(imagePaths.count) images")

        // Images listed before the QA file that needs them.
        let remaining = imagePaths.indices.filter { rowOf[$0] < 0 && !skippedImage[$0] }
        if !remaining.isEmpty {
            // The first copy of a repeated path is decoded (setting its row), as in pass 1.
            try ArchiveReader(path: archive, limits: limits).forEach { entry, read in
                guard entry.kind == .file, let number = imageNumbers[entry.path], rowOf[number] < 0, !skippedImage[number] else { return }
                try decode(number, read)
            }
            phase("pass 2 (\(remaining.count) images listed before their QA file)")
        }
        try pixels.close()

        // Records of skipped images are dropped; the rest get their row and split.
        let filtered = entries.count
        for i in entries.indices { entries[i].image = rowOf[imageOfEntry[i]] }
        entries.removeAll { $0.image < 0 }
        // Rows stand for image paths one to one, so the assignment is the one `assign(imagePaths:...)` gives.
        let assigned = splits.assign(images: entries.map(\.image), modalities: entries.map(\.record.modality),
                                     questionTypes: entries.map(\.record.questionType), seed: seed)
        for i in entries.indices { entries[i].split = assigned[i] }
        let assignedCount = entries.count, skippedRecords = filtered - entries.count
        if !splits.trainModalities.isEmpty || !splits.trainQuestionTypes.isEmpty {
            entries.removeAll { !splits.keeps(split: $0.split, modality: $0.record.modality, questionType: $0.record.questionType) }
        }
        if entries.count < assignedCount {
            log("\(assignedCount - entries.count) train/val records outside the train_modalities/train_question_types filters dropped")
        }
        guard splits.trainModalities.isEmpty && splits.trainQuestionTypes.isEmpty || entries.contains(where: { $0.split == .train }) else {
            throw DatasetError("no training records left: train_modalities \(splits.trainModalities.sorted()) / train_question_types "
                               + "\(splits.trainQuestionTypes.sorted()) match none of the train split's records; the dataset has modalities "
                               + allModalities.sorted().joined(separator: ", ") + " and question types " + allTypes.sorted().joined(separator: ", "))
        }
        var byModality: [String: Int] = [:], byType: [String: Int] = [:]
        var splitCounts = [Int](repeating: 0, count: Split.allCases.count), letterCounts = [Int](repeating: 0, count: 26)
        for i in entries.indices {
            splitCounts[Split.allCases.firstIndex(of: entries[i].split) ?? 0] += 1
            byModality[entries[i].record.modality, default: 0] += 1
            byType[entries[i].record.questionType, default: 0] += 1
            letterCounts[min(max(entries[i].record.answer, 0), 25)] += 1
        }
        var bySplit: [String: Int] = [:], byLetter: [String: Int] = [:]
        for (split, count) in zip(Split.allCases, splitCounts) where count > 0 { bySplit[split.rawValue] = count }
        for (k, count) in letterCounts.enumerated() where count > 0 { byLetter[String(UnicodeScalar(UInt8(65 + k)))] = count }
        phase("splits")
        var images = [String](repeating: "", count: rows)
        for (number, row) in rowOf.enumerated() where row >= 0 { images[row] = imagePaths[number] }
        let index = DatasetIndex(format: DatasetIndex.currentFormat, imageSize: size, channels: 3, images: images, records: entries)
        try index.write(to: output + "/index.json")
        phase("index.json")
        let summary = Summary(records: entries.count, images: images.count, bySplit: bySplit, byModality: byModality,
                              byQuestionType: byType, byAnswerLetter: byLetter, skippedImages: skipped.sorted(),
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
