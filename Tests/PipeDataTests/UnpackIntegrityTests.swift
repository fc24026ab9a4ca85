import Foundation
import PipeArchive
@testable import PipeData
import PipeImaging
import PipeTestSupport
import Testing

/// What an unpack does with archives that are damaged, repeat themselves, name files in Unicode or
/// hold images beyond the size limits: warn (or refuse under `strict`), never resolve silently.
final class UnpackIntegrityTests {
    /// Kept until the test ends.
    var directories: [TemporaryDirectory] = []

    func directory() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("unpack")
        directories.append(directory)
        return directory
    }

    static func record(_ id: String, image: String) -> VQARecord {
        VQARecord(questionID: id, questionType: "Modality Recognition", modality: "CT", question: "What modality?",
                  options: ["CT", "MRI"], answer: 0, imagePath: image, dataset: "D")
    }

    static func png(_ shade: UInt8) throws -> Data {
        try Image(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: shade, count: 64)).pngData()
    }

    /// An archive of `entries` (path, bytes) in order.
    func archive(_ name: String, format: ArchiveWriter.Format = .zip, _ entries: [(String, Data)]) throws -> String {
        let path = try directory().path + "/" + name
        let writer = try ArchiveWriter(path: path, format: format)
        for (entry, data) in entries { try writer.addFile(entry, data) }
        try writer.finish()
        return path
    }

    func unpack(_ archive: String, strict: Bool = false, _ configure: (inout DatasetUnpacker) -> Void = { _ in })
        throws -> (DatasetUnpacker.Summary, DatasetIndex, [String], [UInt8]) {
        let output = try directory()
        var unpacker = DatasetUnpacker()
        unpacker.size = 8
        unpacker.splits = SplitPlan(test: 0, val: 0)
        unpacker.strict = strict
        configure(&unpacker)
        var log: [String] = []
        let summary = try unpacker.unpack(archive: archive, into: output.path) { log.append($0) }
        let pixels = [UInt8](FileManager.default.contents(atPath: output.path + "/images.u8") ?? Data())
        return (summary, try DatasetIndex.read(from: output.path + "/index.json"), log, pixels)
    }

    static let qa = "QA_information/Open-access/D.json"

    @Test func repeatedImagePathsWarnAndUseTheFirstCopyOrFailUnderStrict() throws {
        let records = try OmniMedVQA.json([Self.record("1", image: "Images/a.png"), Self.record("2", image: "Images/b.png")])
        // `a` twice before the QA file, `b` once before and once after it.
        let path = try archive("dup.zip", [("Images/a.png", try Self.png(10)), ("Images/a.png", try Self.png(200)),
                                           ("Images/b.png", try Self.png(20)), (Self.qa, records), ("Images/b.png", try Self.png(220))])
        let (summary, index, log, pixels) = try unpack(path)
        let warning = "\(path): 2 entries repeat a path of an earlier one (`Images/a.png`, `Images/b.png`); the first copy of each is used"
        #expect(summary.warnings == [warning])
        #expect(log.contains("warning: " + warning))
        #expect(index.records.count == 2)
        // The first copies: shades 10 and 20, not 200 and 220.
        let shades = index.images.enumerated().map { ($1, pixels[$0 * 8 * 8 * 3]) }
        #expect(Dictionary(uniqueKeysWithValues: shades) == ["Images/a.png": 10, "Images/b.png": 20])
        #expect { try self.unpack(path, strict: true) } throws: { error in
            "\(error)" == "\(path): `Images/a.png` appears more than once in the archive; refused under `strict: true` (set strict: false to read it anyway)"
        }
    }

    @Test func aRepeatedQAFileIsReadOnce() throws {
        let records = try OmniMedVQA.json([Self.record("1", image: "Images/a.png")])
        let copy = "QA_information/Open-access/D copy.json"
        let path = try archive("qa.zip", [("Images/a.png", try Self.png(10)), (Self.qa, records), (copy, records)])
        let (summary, index, _, _) = try unpack(path)
        #expect(index.records.count == 1)
        #expect(summary.warnings == ["\(path): QA file `\(copy)` is a copy of `\(Self.qa)`; its records were read once"])
        #expect { try self.unpack(path, strict: true) } throws: { error in
            "\(error)".contains("QA file `\(copy)` is a copy of `\(Self.qa)`; refused under `strict: true`")
        }
        // The same QA path twice (with different contents): the first is used, the second reported.
        let twice = try archive("qa2.zip", [("Images/a.png", try Self.png(10)), (Self.qa, records),
                                            (Self.qa, try OmniMedVQA.json([Self.record("9", image: "Images/a.png")]))])
        let (again, index2, _, _) = try unpack(twice)
        #expect(index2.records.map(\.record.questionID) == ["1"])
        #expect(again.warnings.first?.contains("1 entry repeats a path of an earlier one (`\(Self.qa)`)") == true)
    }

    @Test func aZipWithoutItsCentralDirectoryWarnsOrFailsUnderStrict() throws {
        let records = try OmniMedVQA.json([Self.record("1", image: "Images/a.png")])
        let whole = try archive("whole.zip", [("Images/a.png", try Self.png(10)), (Self.qa, records)])
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: whole)))
        let end = try #require((0...(bytes.count - 22)).last { bytes[$0..<($0 + 4)].elementsEqual([0x50, 0x4b, 0x05, 0x06]) })
        let offset = (0..<4).reduce(0) { $0 | Int(bytes[end + 16 + $1]) << (8 * $1) }
        let cut = try directory().path + "/cut.zip"
        #expect(FileManager.default.createFile(atPath: cut, contents: Data(bytes[..<(offset + 40)])))
        let (summary, index, _, _) = try unpack(cut)
        #expect(index.records.count == 1)
        #expect(summary.warnings == ["\(cut): its central directory is missing (the file is cut off?); its entries were read from their local headers"])
        #expect { try self.unpack(cut, strict: true) } throws: { error in
            "\(error)" == "\(cut): its central directory is missing (the file is cut off?); refused under `strict: true` (set strict: false to read it anyway)"
        }
        #expect(try unpack(whole, strict: true).0.warnings.isEmpty)
    }

    @Test(arguments: [ArchiveWriter.Format.zip, .tarGzip])
    func unicodeNamesMatchTheirQARecords(format: ArchiveWriter.Format) throws {
        let names = ["Images/café.jpg", "Images/肺部CT.png"]
        let jpeg = try Image(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 90, count: 192)).jpegData()
        let records = try OmniMedVQA.json(names.enumerated().map { Self.record("\($0)", image: $1) })
        let path = try archive("names.\(format.rawValue)", format: format,
                               [(names[0], jpeg), (names[1], try Self.png(30)), ("QA_information/Open-access/数据.json", records)])
        let (summary, index, _, _) = try unpack(path)
        #expect(summary.warnings.isEmpty && summary.images == 2)
        #expect(index.images.sorted() == names.sorted())
        #expect(Set(index.records.map(\.record.imagePath)) == Set(names))
    }

    @Test func anOversizedImageNamesItselfAndTheLimit() throws {
        let big = try Image(width: 40, height: 30, channels: 3).pngData()
        let records = try OmniMedVQA.json([Self.record("1", image: "Images/big.png")])
        let path = try archive("big.zip", [("Images/big.png", big), (Self.qa, records)])
        #expect { try self.unpack(path) { $0.maxImagePixels = 1000 } } throws: { error in
            "\(error)" == "image Images/big.png: PNG is 40 x 30, beyond the size limit of 1000 pixels (limits.max_image_pixels raises "
                + "the pixel limit); set on_bad_image: skip to drop it and its records"
        }
        let (summary, _, _, _) = try unpack(path) { $0.maxImagePixels = 1200 }
        #expect(summary.images == 1)
    }

    @Test func cmykJPEGsUnpack() throws {
        let red = (0..<64).flatMap { _ in [0, 255, 255, 0] as [UInt8] }
        let cmyk = try Image.cmykJPEGData(width: 8, height: 8, pixels: red, adobeInverted: true)
        let records = try OmniMedVQA.json([Self.record("1", image: "Images/cmyk.jpg")])
        let path = try archive("cmyk.zip", [("Images/cmyk.jpg", cmyk), (Self.qa, records)])
        let (_, index, _, pixels) = try unpack(path)
        #expect(index.images == ["Images/cmyk.jpg"])
        #expect(pixels.count == 8 * 8 * 3)
        #expect(abs(Int(pixels[0]) - 255) <= 4 && pixels[1] <= 4 && pixels[2] <= 4, "\(pixels.prefix(3))")
    }
}
