import Foundation
import PipeArchive
import PipeImaging

extension DatasetUnpacker {
    /// What the passes over the archive learn. The kept records are index entries from the start
    /// (their image row is set after the passes, their split after that): copying 50,000 records
    /// later costs more than the splits.
    struct Catalog {
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
        /// Records in the archive, before the filters, and their modalities and question types.
        var total = 0
        var allModalities = Set<String>(), allTypes = Set<String>()
        var root: String?
        var qaPaths = Set<String>()

        /// The number of the image at archive path `path`, numbering it if no record named it yet.
        mutating func number(ofImage path: String) -> Int {
            if let number = imageNumbers[path] { return number }
            let number = imagePaths.count
            imageNumbers[path] = number
            imagePaths.append(path)
            rowOf.append(-1)
            skippedImage.append(false)
            present.append(unclaimed.remove(path) != nil)
            return number
        }

        /// Each row's image path.
        var imagesByRow: [String] {
            var images = [String](repeating: "", count: rows)
            for (number, row) in rowOf.enumerated() where row >= 0 { images[row] = imagePaths[number] }
            return images
        }
    }

    /// The kept records' counts by split, modality, question type and answer letter.
    struct Counts {
        var bySplit: [String: Int] = [:], byModality: [String: Int] = [:], byQuestionType: [String: Int] = [:]
        var byAnswerLetter: [String: Int] = [:]

        init(_ entries: [DatasetIndex.Entry]) {
            var splitCounts = [Int](repeating: 0, count: Split.allCases.count), letterCounts = [Int](repeating: 0, count: 26)
            for i in entries.indices {
                splitCounts[Split.allCases.firstIndex(of: entries[i].split) ?? 0] += 1
                byModality[entries[i].record.modality, default: 0] += 1
                byQuestionType[entries[i].record.questionType, default: 0] += 1
                letterCounts[min(max(entries[i].record.answer, 0), 25)] += 1
            }
            for (split, count) in zip(Split.allCases, splitCounts) where count > 0 { bySplit[split.rawValue] = count }
            for (k, count) in letterCounts.enumerated() where count > 0 { byAnswerLetter[String(UnicodeScalar(UInt8(65 + k)))] = count }
        }
    }

    /// Pass 1: reads the QA files and decodes each image a record already read needs.
    func readRecordsAndImages(_ archive: String, pixels: PixelFile, catalog: inout Catalog, findings: inout ArchiveFindings,
                              log: (String) -> Void) throws {
        let reader = try ArchiveReader(path: archive, limits: limits)
        try findings.damaged(reader.damage)
        try reader.forEach { entry, read in
            guard entry.kind == .file else { return }
            if let qaRoot = Self.root(ofQAFile: entry.path) {
                try readQAFile(entry.path, root: qaRoot, read, catalog: &catalog, findings: &findings)
            } else if let number = catalog.imageNumbers[entry.path] {
                // Present already: an earlier entry had this path (before or after its record).
                guard !catalog.present[number] else { return try findings.duplicate(entry.path) }
                catalog.present[number] = true
                if catalog.rowOf[number] < 0, !catalog.skippedImage[number] { try decode(number, read, pixels: pixels, catalog: &catalog, log: log) }
            } else if !catalog.unclaimed.insert(entry.path).inserted {
                try findings.duplicate(entry.path)
            }
        }
    }

    /// Adds the records of one QA file that pass the filters to `catalog`.
    func readQAFile(_ path: String, root qaRoot: String, _ read: () throws -> Data, catalog: inout Catalog,
                    findings: inout ArchiveFindings) throws {
        if let root = catalog.root, root != qaRoot {
            throw DatasetError("\(path): QA files under two roots (`\(root)` and `\(qaRoot)`); an archive holds one dataset root")
        }
        catalog.root = qaRoot
        guard catalog.qaPaths.insert(path).inserted else { return try findings.duplicate(path) }
        let data = try read()
        guard try !findings.repeatsQAFile(path, data) else { return }
        // A file lists the questions of one image together, and repeated fields share their
        // strings: comparing with the previous record's is mostly an identity check.
        var lastImagePath: String?, lastNumber = 0, lastModality: String?, lastType: String?
        try OmniMedVQA.forEachRecord(in: data, file: path) { record in
            catalog.total += 1
            if record.modality != lastModality {
                catalog.allModalities.insert(record.modality)
                lastModality = record.modality
            }
            if record.questionType != lastType {
                catalog.allTypes.insert(record.questionType)
                lastType = record.questionType
            }
            guard (modalities.isEmpty || modalities.contains(record.modality)),
                  (questionTypes.isEmpty || questionTypes.contains(record.questionType)) else { return }
            if record.imagePath != lastImagePath {
                lastNumber = catalog.number(ofImage: qaRoot + Self.entryPath(record.imagePath))
                lastImagePath = record.imagePath
            }
            catalog.entries.append(DatasetIndex.Entry(record: record, image: -1, split: .train))
            catalog.imageOfEntry.append(lastNumber)
        }
    }

    /// Pass 2: decodes the images listed before the QA file that needs them (the first copy of a
    /// repeated path, setting its row, as in pass 1).
    func readImagesListedEarly(_ archive: String, pixels: PixelFile, catalog: inout Catalog, log: (String) -> Void) throws {
        try ArchiveReader(path: archive, limits: limits).forEach { entry, read in
            guard entry.kind == .file, let number = catalog.imageNumbers[entry.path], catalog.rowOf[number] < 0,
                  !catalog.skippedImage[number] else { return }
            try decode(number, read, pixels: pixels, catalog: &catalog, log: log)
        }
    }

    /// Decodes image `number` into the next row of `pixels`; with `on_bad_image: skip`, an image that
    /// does not decode is marked skipped instead.
    func decode(_ number: Int, _ read: () throws -> Data, pixels: PixelFile, catalog: inout Catalog, log: (String) -> Void) throws {
        let path = catalog.imagePaths[number]
        let data = try read()
        let image: Image
        do {
            // An RGB JPEG of the target size (the synthetic benchmark's) decodes straight into the pixel file.
            if try pixels.appendJPEG(data, side: size, maxPixels: maxImagePixels) {
                catalog.rowOf[number] = catalog.rows
                catalog.rows += 1
                return
            }
            image = try Image(decoding: data, maxPixels: maxImagePixels)
        } catch let error as ImageError {
            guard onBadImage == .skip else {
                let pixelLimit = if case .tooLarge(let message) = error, message.hasSuffix(" pixels") { true } else { false }
                let hint = pixelLimit ? " (limits.max_image_pixels raises the pixel limit)" : ""
                throw DatasetError("image \(path): \(error)\(hint); set on_bad_image: skip to drop it and its records")
            }
            catalog.skippedImage[number] = true
            catalog.skipped.append(path)
            log("skipped \(path): \(error)")
            return
        }
        try pixels.append(image.rgb.resized(width: size, height: size).pixels)
        catalog.rowOf[number] = catalog.rows
        catalog.rows += 1
    }

    /// Throws when the archive has no records, the filters keep none, or (with `on_bad_image: error`)
    /// a kept record names an image the archive does not hold.
    func checkRecords(_ catalog: Catalog, archive: String) throws {
        guard catalog.total > 0 else {
            throw DatasetError("\(archive): no records in \(OmniMedVQA.qaDirectory)/*.json; is this an OmniMedVQA-layout archive?")
        }
        guard !catalog.entries.isEmpty else {
            throw DatasetError("no records left after the modality/question-type filters (\(catalog.total) before); the archive has modalities "
                               + catalog.allModalities.sorted().joined(separator: ", ") + " and question types "
                               + catalog.allTypes.sorted().joined(separator: ", "))
        }
        let missing = catalog.entries.indices.filter { !catalog.present[catalog.imageOfEntry[$0]] }
        if !missing.isEmpty && onBadImage == .error {
            throw DatasetError("\(missing.count) records name an image missing from the archive, e.g. "
                               + missing.prefix(5).map { "\(catalog.entries[$0].record.questionID) (\(catalog.entries[$0].record.imagePath))" }
                                 .joined(separator: ", ")
                               + "; set on_bad_image: skip to drop them")
        }
    }

    /// Gives the kept records their image rows and splits: records of skipped images are dropped, and
    /// with train_modalities / train_question_types so are the train and val records outside them.
    /// Returns the number of records dropped with their images.
    func assignSplits(_ catalog: inout Catalog, log: (String) -> Void) throws -> Int {
        let filtered = catalog.entries.count
        for i in catalog.entries.indices { catalog.entries[i].image = catalog.rowOf[catalog.imageOfEntry[i]] }
        catalog.entries.removeAll { $0.image < 0 }
        // Rows stand for image paths one to one, so the assignment is the one `assign(imagePaths:...)` gives.
        let assigned = splits.assign(images: catalog.entries.map(\.image), modalities: catalog.entries.map(\.record.modality),
                                     questionTypes: catalog.entries.map(\.record.questionType), seed: seed)
        for i in catalog.entries.indices { catalog.entries[i].split = assigned[i] }
        let assignedCount = catalog.entries.count, skippedRecords = filtered - catalog.entries.count
        if !splits.trainModalities.isEmpty || !splits.trainQuestionTypes.isEmpty {
            catalog.entries.removeAll { !splits.keeps(split: $0.split, modality: $0.record.modality, questionType: $0.record.questionType) }
        }
        if catalog.entries.count < assignedCount {
            log("\(assignedCount - catalog.entries.count) train/val records outside the train_modalities/train_question_types filters dropped")
        }
        guard splits.trainModalities.isEmpty && splits.trainQuestionTypes.isEmpty || catalog.entries.contains(where: { $0.split == .train }) else {
            throw DatasetError("no training records left: train_modalities \(splits.trainModalities.sorted()) / train_question_types "
                               + "\(splits.trainQuestionTypes.sorted()) match none of the train split's records; the dataset has modalities "
                               + catalog.allModalities.sorted().joined(separator: ", ") + " and question types "
                               + catalog.allTypes.sorted().joined(separator: ", "))
        }
        return skippedRecords
    }
}
