import Foundation
import PipeArchive
@testable import PipeData
import PipeImaging
import PipeTestSupport
import Testing

/// Unpacking OmniMedVQA-layout archives built in the tests.
final class DatasetUnpackerTests {
    /// An archive with `images` images (alternating CT JPEGs and MRI PNGs), one or two questions each.
    static func makeArchive(in directory: TemporaryDirectory, images: Int = 20, format: ArchiveWriter.Format = .zip,
                            corrupt: Set<Int> = [], missing: Set<Int> = [], qaFirst: Bool = false,
                            root: String = "") throws -> String {
        let path = directory.path + "/sample.\(format.rawValue)"
        let writer = try ArchiveWriter(path: path, format: format)
        var records: [VQARecord] = []
        var files: [(String, Data)] = []
        for i in 0..<images {
            let modality = i % 2 == 0 ? "CT" : "MRI"
            let name = "Images/\(modality)/\(i).\(i % 2 == 0 ? "jpg" : "png")"
            var image = Image(width: 40, height: 30, channels: i % 2 == 0 ? 3 : 1)
            for y in 0..<30 { for x in 0..<40 { for c in 0..<image.channels { image[x, y, c] = UInt8((x + y + i * 7 + c) % 200) } } }
            let data = corrupt.contains(i) ? Data([0xff, 0xd8, 1, 2, 3]) : i % 2 == 0 ? try image.jpegData() : try image.pngData()
            if !missing.contains(i) { files.append((root + name, data)) }
            records.append(VQARecord(questionID: "q\(i)", questionType: "Modality Recognition", modality: modality,
                                     question: "What modality?", options: ["CT", "MRI", "OCT"], answer: i % 2,
                                     imagePath: name, dataset: modality))
            if i % 4 == 0 {
                records.append(VQARecord(questionID: "q\(i)b", questionType: "Lesion Grading", modality: modality,
                                         question: "Grade?", options: ["1", "2"], answer: 1, imagePath: name, dataset: modality))
            }
        }
        let qa = (root + "QA_information/Open-access/Sample.json", try OmniMedVQA.json(records))
        for (name, data) in qaFirst ? [qa] + files : files + [qa] { try writer.addFile(name, data) }
        try writer.finish()
        return path
    }

    func unpack(_ archive: String, _ configure: (inout DatasetUnpacker) -> Void = { _ in }) throws -> (DatasetUnpacker.Summary, String) {
        let output = try TemporaryDirectory("dataset")
        var unpacker = DatasetUnpacker()
        unpacker.size = 16
        configure(&unpacker)
        let summary = try unpacker.unpack(archive: archive, into: output.path)
        outputs.append(output)
        return (summary, output.path)
    }
    /// Kept until the test ends.
    var outputs: [TemporaryDirectory] = []

    @Test(arguments: [ArchiveWriter.Format.zip, .tarGzip, .tarXz, .tarZstd])
    func unpacksRecordsImagesAndSplits(format: ArchiveWriter.Format) throws {
        let directory = try TemporaryDirectory("unpack")
        let archive = try Self.makeArchive(in: directory, images: 20, format: format)
        let (summary, output) = try unpack(archive)
        #expect(summary.records == 25 && summary.images == 20)
        #expect(summary.byModality == ["CT": 15, "MRI": 10])
        #expect(summary.byQuestionType == ["Modality Recognition": 20, "Lesion Grading": 5])
        #expect(summary.byAnswerLetter == ["A": 10, "B": 15])
        #expect(summary.bySplit.values.reduce(0, +) == 25)
        let pixels = try #require(FileManager.default.contents(atPath: output + "/images.u8"))
        #expect(pixels.count == 20 * 16 * 16 * 3)
        let index = try DatasetIndex.read(from: output + "/index.json")
        #expect(index.images.count == 20 && index.imageSize == 16)
        // Each record points at its own image's row, and a gray PNG became RGB with equal channels.
        for entry in index.records { #expect(index.images[entry.image] == entry.record.imagePath) }
        let mri = index.images.firstIndex(of: "Images/MRI/1.png")!
        let row = pixels[(mri * 768)..<(mri * 768 + 3)]
        #expect(Set(row).count == 1)
    }

    @Test func isDeterministicAndQAOrderDoesNotMatter() throws {
        let directory = try TemporaryDirectory("unpack")
        let first = try unpack(try Self.makeArchive(in: directory, images: 12)) { $0.seed = 3 }
        let second = try unpack(try Self.makeArchive(in: directory, images: 12)) { $0.seed = 3 }
        for file in ["images.u8", "index.json", "metrics.json"] {
            #expect(FileManager.default.contents(atPath: first.1 + "/" + file) == FileManager.default.contents(atPath: second.1 + "/" + file))
        }
        let other = try TemporaryDirectory("unpack")
        let reordered = try unpack(try Self.makeArchive(in: other, images: 12, qaFirst: true)) { $0.seed = 3 }
        #expect(reordered.0 == first.0)
    }

    @Test func archiveWithATopFolderUnpacksLikeOneWithout() throws {
        let flat = try TemporaryDirectory("unpack"), nested = try TemporaryDirectory("unpack")
        let first = try unpack(try Self.makeArchive(in: flat, images: 8)) { $0.seed = 3 }
        let second = try unpack(try Self.makeArchive(in: nested, images: 8, root: "OmniMedVQA/")) { $0.seed = 3 }
        #expect(FileManager.default.contents(atPath: first.1 + "/images.u8") == FileManager.default.contents(atPath: second.1 + "/images.u8"))
        #expect(first.0 == second.0)
        #expect(DatasetUnpacker.root(ofQAFile: "QA_information/Open-access/A.json") == "")
        #expect(DatasetUnpacker.root(ofQAFile: "OmniMedVQA/QA_information/Open-access/A.json") == "OmniMedVQA/")
        #expect(DatasetUnpacker.root(ofQAFile: "a/b/QA_information/Open-access/A.json") == nil)
        #expect(DatasetUnpacker.root(ofQAFile: "QA_information/Open-access/sub/A.json") == nil)
    }

    @Test func missingAndCorruptImagesFailOrAreSkipped() throws {
        let directory = try TemporaryDirectory("unpack")
        let missing = try Self.makeArchive(in: directory, images: 8, missing: [3])
        #expect { _ = try unpack(missing) } throws: { error in
            "\(error)".contains("1 records name an image missing from the archive, e.g. q3 (Images/MRI/3.png)")
        }
        let other = try TemporaryDirectory("unpack")
        let corrupt = try Self.makeArchive(in: other, images: 8, corrupt: [4])
        #expect { _ = try unpack(corrupt) } throws: { error in
            "\(error)".hasPrefix("image Images/CT/4.jpg: corrupt JPEG")
        }
        let (summary, _) = try unpack(corrupt) { $0.onBadImage = .skip }
        #expect(summary.skippedImages == ["Images/CT/4.jpg"])
        #expect(summary.skippedRecords == 2 && summary.images == 7)
    }

    @Test func filtersAndHeldOutModality() throws {
        let directory = try TemporaryDirectory("unpack")
        let archive = try Self.makeArchive(in: directory, images: 20)
        let (onlyCT, _) = try unpack(archive) { $0.modalities = ["CT"] }
        #expect(onlyCT.byModality == ["CT": 15] && onlyCT.images == 10)
        let (grading, _) = try unpack(archive) { $0.questionTypes = ["Lesion Grading"] }
        #expect(grading.records == 5)
        let (holdout, output) = try unpack(archive) { $0.splits = SplitPlan(test: 0.2, val: 0.1, holdoutModalities: ["MRI"]) }
        #expect(holdout.bySplit["test"] == 10)
        let index = try DatasetIndex.read(from: output + "/index.json")
        #expect(index.records.allSatisfy { ($0.split == .test) == ($0.record.modality == "MRI") })
        #expect { _ = try unpack(archive) { $0.modalities = ["OCT"] } } throws: { error in
            "\(error)".contains("the archive has modalities CT, MRI")
        }
    }

    @Test func trainFiltersKeepTheWholeTestSplit() throws {
        let directory = try TemporaryDirectory("unpack")
        let archive = try Self.makeArchive(in: directory, images: 20)
        let (_, all) = try unpack(archive)
        let (summary, ctOnly) = try unpack(archive) { $0.splits.trainModalities = ["CT"] }
        let full = try DatasetIndex.read(from: all + "/index.json"), filtered = try DatasetIndex.read(from: ctOnly + "/index.json")
        // The same test split, whatever the train filter; train and val only CT.
        #expect(filtered.records.filter { $0.split == .test } == full.records.filter { $0.split == .test })
        #expect(Set(full.records.filter { $0.split == .test }.map(\.record.modality)) == ["CT", "MRI"])
        #expect(filtered.records.filter { $0.split != .test }.allSatisfy { $0.record.modality == "CT" })
        #expect(filtered.records.filter { $0.split == .train } == full.records.filter { $0.split == .train && $0.record.modality == "CT" })
        #expect(summary.records == filtered.records.count && summary.skippedRecords == 0)
        let (_, grading) = try unpack(archive) { $0.splits.trainQuestionTypes = ["Lesion Grading"] }
        let byType = try DatasetIndex.read(from: grading + "/index.json")
        #expect(byType.records.filter { $0.split != .test }.allSatisfy { $0.record.questionType == "Lesion Grading" })
        #expect(byType.records.filter { $0.split == .test } == full.records.filter { $0.split == .test })
        #expect { _ = try unpack(archive) { $0.splits.trainModalities = ["OCT"] } } throws: { error in
            "\(error)".contains("no training records left: train_modalities [\"OCT\"]")
        }
    }

    @Test func unsafeOrEmptyArchivesAreRefused() throws {
        let directory = try TemporaryDirectory("unpack")
        let path = directory.path + "/evil.zip"
        let writer = try ArchiveWriter(path: path, format: .zip)
        try writer.addFile("QA_information/Open-access/A.json", Data("[]".utf8))
        try writer.addFile("../../escape.jpg", Data([1]))
        try writer.finish()
        #expect { _ = try unpack(path) } throws: { error in "\(error)".contains("refused entry `../../escape.jpg`") }
        let empty = directory.path + "/empty.zip"
        let emptyWriter = try ArchiveWriter(path: empty, format: .zip)
        try emptyWriter.addFile("readme.txt", Data("hi".utf8))
        try emptyWriter.finish()
        #expect { _ = try unpack(empty) } throws: { error in "\(error)".contains("no records in QA_information/Open-access/*.json") }
    }
}
