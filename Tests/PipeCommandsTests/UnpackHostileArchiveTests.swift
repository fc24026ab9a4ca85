import Foundation
import PipeArchive
import PipeData
import PipeImaging
import PipeTestSupport
import Testing

/// `kind: unpack` on hostile or odd archives, through the built binary: oversized images, Unicode
/// names under any locale, a zip without its central directory, repeated entries; each run checks
/// the message, the exit code and that the cache's tmp/ is left empty.
struct UnpackHostileArchiveTests {
    static func record(_ id: String, image: String) -> VQARecord {
        VQARecord(questionID: id, questionType: "Modality Recognition", modality: "CT", question: "What modality?",
                  options: ["CT", "MRI"], answer: 0, imagePath: image, dataset: "D")
    }

    static let qa = "QA_information/Open-access/D.json"

    static func png(_ shade: UInt8) throws -> Data {
        try Image(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: shade, count: 64)).pngData()
    }

    /// A PNG whose IHDR declares `width` x `height` over 8 x 8 pixels of data (CRC fixed up).
    static func forgedPNG(width: UInt32, height: UInt32) throws -> Data {
        var bytes = [UInt8](try png(1))
        let size = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: width >> $0) } + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: height >> $0) }
        bytes.replaceSubrange(16..<24, with: size)
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes[12..<29] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
        }
        bytes.replaceSubrange(29..<33, with: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: ~crc >> $0) })
        return Data(bytes)
    }

    static func recipe(_ archive: String, strict: Bool = false) -> String {
        """
        pipe: 1
        name: hostile
        seed: 1
        stages:
          split:
            kind: unpack
            with: {path: \(archive), size: 8, split: {test: 0, val: 0}, strict: \(strict)}
        """
    }

    /// Writes `entries` as `name` in the project.
    static func archive(_ project: CLIProject, _ name: String, format: ArchiveWriter.Format = .zip, _ entries: [(String, Data)]) throws -> String {
        let path = project.path + "/" + name
        let writer = try ArchiveWriter(path: path, format: format)
        for (entry, data) in entries { try writer.addFile(entry, data) }
        try writer.finish()
        return path
    }

    /// Runs the recipe over `archive`; checks the cache's tmp/ is empty afterwards.
    static func run(_ project: CLIProject, _ archive: String, strict: Bool = false, environment: [String: String] = [:],
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> PipeBinary.Output {
        try project.directory.write("hostile.yaml", recipe(archive, strict: strict))
        let run = try project.pipe("run", "hostile.yaml", environment: environment)
        let leftover = (try? FileManager.default.contentsOfDirectory(atPath: project.path + "/artifacts/tmp")) ?? []
        #expect(leftover.isEmpty, "left in tmp/: \(leftover)", sourceLocation: sourceLocation)
        return run
    }

    @Test func anImageDeclaringAHugeSizeFailsTheStageNamingItAndTheLimit() throws {
        let project = try CLIProject()
        _ = try Self.archive(project, "big.zip", [("Images/big.png", try Self.forgedPNG(width: 100_000, height: 100_000)),
                                                  (Self.qa, try OmniMedVQA.json([Self.record("1", image: "Images/big.png")]))])
        let run = try Self.run(project, "big.zip")
        #expect(run.status == 1)
        #expect(run.stdout.contains("image Images/big.png: PNG is 100000 x 100000, beyond the size limit of 50000000 pixels "
                                    + "(limits.max_image_pixels raises the pixel limit); set on_bad_image: skip"), "\(run.stdout)\(run.stderr)")
    }

    struct Names: CustomTestStringConvertible, Sendable {
        var format: ArchiveWriter.Format
        var locale: String
        var testDescription: String { "\(format.rawValue) under LC_ALL=\(locale)" }
    }

    @Test(arguments: [ArchiveWriter.Format.zip, .tarGzip].flatMap { format in ["C", "POSIX", "C.UTF-8"].map { Names(format: format, locale: $0) } })
    func unicodeNamesUnpackUnderAnyLocale(_ test: Names) throws {
        let project = try CLIProject()
        let names = ["Images/café.jpg", "Images/肺部CT.png"]
        let jpeg = try Image(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 90, count: 192)).jpegData()
        let file = "names.\(test.format.rawValue)"
        _ = try Self.archive(project, file, format: test.format,
                             [(names[0], jpeg), (names[1], try Self.png(30)),
                              ("QA_information/Open-access/数据.json", try OmniMedVQA.json(names.enumerated().map { Self.record("\($0)", image: $1) }))])
        let run = try Self.run(project, file, environment: ["LC_ALL": test.locale, "LANG": test.locale])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(!run.stderr.contains("warning"))
        try project.pipe("get", "latest", "split", "--out", "dataset")
        let index = try DatasetIndex.read(from: project.path + "/dataset/index.json")
        #expect(index.images.sorted() == names.sorted())
        #expect(Set(index.records.map(\.record.imagePath)) == Set(names))
    }

    @Test func aZipCutBeforeItsCentralDirectoryWarnsOrFailsUnderStrict() throws {
        let project = try CLIProject()
        let whole = try Self.archive(project, "whole.zip", [("Images/a.png", try Self.png(10)),
                                                            (Self.qa, try OmniMedVQA.json([Self.record("1", image: "Images/a.png")]))])
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: whole)))
        let end = try #require((0...(bytes.count - 22)).last { bytes[$0..<($0 + 4)].elementsEqual([0x50, 0x4b, 0x05, 0x06]) })
        let offset = (0..<4).reduce(0) { $0 | Int(bytes[end + 16 + $1]) << (8 * $1) }
        #expect(FileManager.default.createFile(atPath: project.path + "/cut.zip", contents: Data(bytes[..<(offset + 40)])))
        let cut = project.path + "/cut.zip"

        let warned = try Self.run(project, "cut.zip")
        #expect(warned.status == 0, "\(warned.stdout)\(warned.stderr)")
        let lines = warned.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(lines == ["warning: stage `split`: \(cut): its central directory is missing (the file is cut off?); "
                          + "its entries were read from their local headers"], "\(warned.stderr)")

        let refused = try Self.run(project, "cut.zip", strict: true)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("\(cut): its central directory is missing (the file is cut off?); refused under `strict: true` "
                                        + "(set strict: false to read it anyway)"), "\(refused.stdout)\(refused.stderr)")
        #expect(try Self.run(project, "whole.zip", strict: true).status == 0)
    }

    @Test func repeatedEntriesAndQAFilesWarnOrFailUnderStrict() throws {
        let project = try CLIProject()
        let records = try OmniMedVQA.json([Self.record("1", image: "Images/a.png")])
        let copy = "QA_information/Open-access/D (1).json"
        let path = try Self.archive(project, "dup.zip", [("Images/a.png", try Self.png(10)), ("Images/a.png", try Self.png(99)),
                                                         (Self.qa, records), (copy, records)])
        let warned = try Self.run(project, "dup.zip")
        #expect(warned.status == 0, "\(warned.stdout)\(warned.stderr)")
        let lines = warned.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(lines == ["warning: stage `split`: \(path): QA file `\(copy)` is a copy of `\(Self.qa)`; its records were read once",
                          "warning: stage `split`: \(path): 1 entry repeats a path of an earlier one (`Images/a.png`); the first copy of each is used"],
                "\(warned.stderr)")
        try project.pipe("get", "latest", "split", "--out", "dataset")
        #expect(try DatasetIndex.read(from: project.path + "/dataset/index.json").records.count == 1)

        let refused = try Self.run(project, "dup.zip", strict: true)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("\(path): `Images/a.png` appears more than once in the archive; refused under `strict: true`"),
                "\(refused.stdout)\(refused.stderr)")
    }
}
