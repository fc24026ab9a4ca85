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
    ///
    /// One pass reads the QA files and decodes each image a record already read needs; when an archive
    /// lists images before their QA file, a second pass decodes those. Images no kept record needs are
    /// skipped without decoding.
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
        /// The archive entry of each kept record's image.
        var entryOf: [String] = []
        var wanted = Set<String>()
        var total = 0
        var allModalities = Set<String>(), allTypes = Set<String>()
        var root: String?
        var imageEntries = Set<String>()
        var rows: [String: Int] = [:]
        var skipped = Set<String>()

        func decode(_ path: String, _ read: () throws -> Data) throws {
            let data = try read()
            let image: Image
            do {
                // An RGB JPEG of the target size (the synthetic benchmark's) decodes straight into the pixel file.
                if try pixels.appendJPEG(data, side: size) {
                    rows[path] = rows.count
                    return
                }
                image = try Image(decoding: data)
            } catch let error as ImageError {
                guard onBadImage == .skip else {
                    throw DatasetError("image \(path): \(error); set on_bad_image: skip to drop it and its records")
                }
                skipped.insert(path)
                log("skipped \(path): \(error)")
                return
            }
            try pixels.append(image.rgb.resized(width: size, height: size).pixels)
            rows[path] = rows.count
        }

        try ArchiveReader(path: archive, limits: limits).forEach { entry, read in
            guard entry.kind == .file else { return }
            if let qaRoot = Self.root(ofQAFile: entry.path) {
                if let root, root != qaRoot {
                    throw DatasetError("\(entry.path): QA files under two roots (`\(root)` and `\(qaRoot)`); an archive holds one dataset root")
                }
                root = qaRoot
                let parsed = try OmniMedVQA.records(from: try read(), file: entry.path)
                total += parsed.count
                for record in parsed {
                    allModalities.insert(record.modality)
                    allTypes.insert(record.questionType)
                    guard (modalities.isEmpty || modalities.contains(record.modality)),
                          (questionTypes.isEmpty || questionTypes.contains(record.questionType)) else { continue }
                    let path = qaRoot + Self.entryPath(record.imagePath)
                    entries.append(DatasetIndex.Entry(record: record, image: -1, split: .train))
                    entryOf.append(path)
                    wanted.insert(path)
                }
            } else {
                imageEntries.insert(entry.path)
                if wanted.contains(entry.path), rows[entry.path] == nil, !skipped.contains(entry.path) {
                    try decode(entry.path, read)
                }
            }
        }
        phase("pass 1")
        guard total > 0 else {
            throw DatasetError("\(archive): no records in \(OmniMedVQA.qaDirectory)/*.json; is this an OmniMedVQA-layout archive?")
        }
        guard !entries.isEmpty else {
            throw DatasetError("no records left after the modality/question-type filters (\(total) before); the archive has modalities "
                               + allModalities.sorted().joined(separator: ", ") + " and question types " + allTypes.sorted().joined(separator: ", "))
        }
        let missing = entries.indices.filter { !imageEntries.contains(entryOf[$0]) }
        if !missing.isEmpty && onBadImage == .error {
            throw DatasetError("\(missing.count) records name an image missing from the archive, e.g. "
                               + missing.prefix(5).map { "\(entries[$0].record.questionID) (\(entries[$0].record.imagePath))" }
                                 .joined(separator: ", ")
                               + "; set on_bad_image: skip to drop them")
        }
        skipped.formUnion(missing.map { entryOf[$0] })
        log("\(entries.count) records (\(total) in the archive), \(wanted.count) images")

        // Images listed before the QA file that needs them.
        let remaining = wanted.subtracting(rows.keys).subtracting(skipped)
        if !remaining.isEmpty {
            try ArchiveReader(path: archive, limits: limits).forEach { entry, read in
                guard entry.kind == .file, remaining.contains(entry.path), rows[entry.path] == nil, !skipped.contains(entry.path) else { return }
                try decode(entry.path, read)
            }
            phase("pass 2 (\(remaining.count) images listed before their QA file)")
        }
        try pixels.close()

        // Records of skipped images are dropped; the rest get their row and split.
        let filtered = entries.count
        for i in entries.indices { entries[i].image = rows[entryOf[i]] ?? -1 }
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
        var images = [String](repeating: "", count: rows.count)
        for (path, row) in rows { images[row] = path }
        let index = DatasetIndex(format: DatasetIndex.currentFormat, imageSize: size, channels: 3, images: images, records: entries)
        try index.write(to: output + "/index.json")
        phase("index.json")
        let summary = Summary(records: entries.count, images: images.count, bySplit: bySplit, byModality: byModality,
                              byQuestionType: byType, byAnswerLetter: byLetter, skippedImages: skipped.sorted(),
                              skippedRecords: skippedRecords)
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

    /// Writes the index as JSON (the Codable form, keys sorted), built directly: `JSONEncoder` takes
    /// most of a second on 50,000 records.
    public func write(to path: String) throws {
        var out = JSONText(capacity: 64 * images.count + 400 * records.count)
        out.raw("{\"channels\":"); out.int(channels)
        out.raw(",\"format\":"); out.string(format)
        out.raw(",\"imageSize\":"); out.int(imageSize)
        out.raw(",\"images\":[")
        for (i, image) in images.enumerated() {
            if i > 0 { out.raw(",") }
            out.string(image)
        }
        out.raw("],\"records\":[")
        for i in records.indices {
            // Read in place: copying an entry would retain and release each of its strings.
            out.raw(i > 0 ? ",{\"image\":" : "{\"image\":"); out.int(records[i].image)
            out.raw(",\"record\":{\"answer\":"); out.int(records[i].record.answer)
            if let chain = records[i].record.chainID { out.raw(",\"chainID\":"); out.string(chain) }
            if let step = records[i].record.chainStep { out.raw(",\"chainStep\":"); out.int(step) }
            out.raw(",\"dataset\":"); out.string(records[i].record.dataset)
            out.raw(",\"imagePath\":"); out.string(records[i].record.imagePath)
            out.raw(",\"modality\":"); out.string(records[i].record.modality)
            out.raw(",\"options\":[")
            for (k, option) in records[i].record.options.enumerated() {
                if k > 0 { out.raw(",") }
                out.string(option)
            }
            out.raw("],\"question\":"); out.string(records[i].record.question)
            out.raw(",\"questionID\":"); out.string(records[i].record.questionID)
            out.raw(",\"questionType\":"); out.string(records[i].record.questionType)
            switch records[i].split {
            case .train: out.raw("},\"split\":\"train\"}")
            case .val: out.raw("},\"split\":\"val\"}")
            case .test: out.raw("},\"split\":\"test\"}")
            }
        }
        out.raw("]}")
        try out.write(to: path)
    }

    public static func read(from path: String) throws -> DatasetIndex {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        let index = try JSONDecoder().decode(DatasetIndex.self, from: data)
        guard index.format == currentFormat else { throw DatasetError("\(path): unsupported dataset format \(index.format)") }
        return index
    }
}

/// `images.u8`, written through a 4 MiB buffer.
final class PixelFile {
    private let handle: FileHandle
    private let path: String
    private var buffer: [UInt8] = []
    /// Room for one image, appended before decoding into it.
    private var zeros: [UInt8] = []

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DatasetError("cannot write \(path)")
        }
        self.handle = handle
        self.path = path
        buffer.reserveCapacity(4 << 20)
    }

    deinit { try? handle.close() }

    func append(_ pixels: [UInt8]) throws {
        buffer.append(contentsOf: pixels)
        if buffer.count >= 4 << 20 { try flush() }
    }

    /// Appends `data` decoded, when it is an RGB JPEG of `side` x `side`; false, appending nothing, otherwise.
    func appendJPEG(_ data: Data, side: Int) throws -> Bool {
        let start = buffer.count, count = side * side * 3
        if zeros.count != count { zeros = [UInt8](repeating: 0, count: count) }
        buffer.append(contentsOf: zeros)  // a copy, faster than appending a repeated element
        let decoded: Bool
        do {
            decoded = try buffer.withUnsafeMutableBytes {
                try Image.decodeJPEG(data, into: UnsafeMutableRawBufferPointer(rebasing: $0[start...]), width: side, height: side)
            }
        } catch {
            buffer.removeLast(count)
            throw error
        }
        guard decoded else {
            buffer.removeLast(count)
            return false
        }
        if buffer.count >= 4 << 20 { try flush() }
        return true
    }

    private func flush() throws {
        // write(2) straight from the buffer: FileHandle would copy it into a new Data first.
        let descriptor = handle.fileDescriptor
        try buffer.withUnsafeBytes { try writeAll(descriptor, $0, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.close()
    }
}
