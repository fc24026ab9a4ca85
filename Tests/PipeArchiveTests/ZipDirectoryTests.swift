import Foundation
import PipeArchive
import PipeTestSupport
import Testing

/// A zip whose central directory is missing is read from its local headers, and the reader says so.
struct ZipDirectoryTests {
    /// A zip of two files, and the same bytes cut 40 bytes into the central directory (a broken download).
    static func zips(_ directory: TemporaryDirectory) throws -> (whole: String, cut: String) {
        let whole = try ArchiveTests.build(directory, "whole.zip") { writer in
            try writer.addFile("a.txt", Data("alpha".utf8))
            try writer.addFile("b.txt", Data(repeating: 7, count: 5000))
        }
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: whole)))
        // The end record's bytes 16-19 hold the central directory's offset.
        let end = try #require((0...(bytes.count - 22)).last { bytes[$0..<($0 + 4)].elementsEqual([0x50, 0x4b, 0x05, 0x06]) })
        let offset = (0..<4).reduce(0) { $0 | Int(bytes[end + 16 + $1]) << (8 * $1) }
        let cut = directory.path + "/cut.zip"
        #expect(FileManager.default.createFile(atPath: cut, contents: Data(bytes[..<(offset + 40)])))
        return (whole, cut)
    }

    @Test func missingCentralDirectoryIsReportedButRead() throws {
        let directory = try TemporaryDirectory("archive")
        let (whole, cut) = try Self.zips(directory)
        let complete = try ArchiveReader(path: whole)
        #expect(complete.damage == nil && complete.warnings.isEmpty)
        let reader = try ArchiveReader(path: cut)
        #expect(reader.warnings == ["\(cut): its central directory is missing (the file is cut off?)"])
        var files: [String: Data] = [:]
        try reader.forEach { entry, read in files[entry.path] = try read() }
        #expect(files == ["a.txt": Data("alpha".utf8), "b.txt": Data(repeating: 7, count: 5000)])
    }

    @Test func tarsAndDamagedEndRecordsAreChecked() throws {
        let directory = try TemporaryDirectory("archive")
        let tar = try ArchiveTests.build(directory, "t.tar.gz", format: .tarGzip) { try $0.addFile("a.txt", Data("x".utf8)) }
        #expect(try ArchiveReader(path: tar).damage == nil)
        // An end record pointing past itself: the directory was cut out of the middle.
        let (whole, _) = try Self.zips(directory)
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: whole)))
        let end = try #require((0...(bytes.count - 22)).last { bytes[$0..<($0 + 4)].elementsEqual([0x50, 0x4b, 0x05, 0x06]) })
        bytes[end + 17] &+= 1
        let shifted = directory.path + "/shifted.zip"
        #expect(FileManager.default.createFile(atPath: shifted, contents: Data(bytes)))
        let damage = try? ArchiveReader(path: shifted).damage
        #expect(damage?.hasPrefix("its central directory is cut off") == true, "\(String(describing: damage))")
    }
}
