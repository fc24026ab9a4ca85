import Foundation
import PipeArchive
import PipeTestSupport
import Testing

/// Non-ASCII entry names survive a write and a read whatever the locale (a batch job's is often C).
struct ArchiveNameTests {
    static let names = ["Images/café.jpg", "Images/肺部CT.png", "QA_information/Open-access/Ünïcode 数据.json"]

    /// Runs `body` with this thread's character type set to `name`, as a process started under it would be.
    static func inLocale<T>(_ name: String, _ body: () throws -> T) throws -> T {
        let locale = try #require(newlocale(LC_CTYPE_MASK, name, nil), "locale \(name) is not installed")
        defer { freelocale(locale) }
        let previous = uselocale(locale)
        defer { uselocale(previous) }
        return try body()
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var format: ArchiveWriter.Format
        var writeLocale: String
        var readLocale: String
        var testDescription: String { "\(format.rawValue), written under \(writeLocale), read under \(readLocale)" }
    }

    static let cases: [Case] = [ArchiveWriter.Format.zip, .tarGzip].flatMap { format in
        ["C", "C.UTF-8"].flatMap { write in ["C", "POSIX", "C.UTF-8"].map { Case(format: format, writeLocale: write, readLocale: $0) } }
    }

    @Test(arguments: cases)
    func unicodeNamesRoundTrip(_ test: Case) throws {
        let directory = try TemporaryDirectory("archive")
        let path = try Self.inLocale(test.writeLocale) {
            try ArchiveTests.build(directory, "names.\(test.format.rawValue)", format: test.format) { writer in
                for (i, name) in Self.names.enumerated() { try writer.addFile(name, Data([UInt8(i)])) }
            }
        }
        let files = try Self.inLocale(test.readLocale) { try ArchiveTests.readAll(path) }
        #expect(files == Dictionary(uniqueKeysWithValues: Self.names.enumerated().map { ($1, Data([UInt8($0)])) }))
        // The caller's locale is restored after each archive call.
        let (before, after) = try Self.inLocale(test.readLocale) { () -> (locale_t?, locale_t?) in
            let before = uselocale(nil)
            _ = try ArchiveTests.readAll(path)
            return (before, uselocale(nil))
        }
        #expect(before == after)
    }

    @Test func zipNamesCarryTheUTF8Flag() throws {
        let directory = try TemporaryDirectory("archive")
        let path = try Self.inLocale("C") {
            try ArchiveTests.build(directory, "flag.zip") { try $0.addFile("café.jpg", Data([1])) }
        }
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        // The local header's general-purpose flags (bytes 6-7): bit 11 is "the name is UTF-8".
        #expect(bytes.starts(with: [0x50, 0x4b, 0x03, 0x04]))
        #expect(bytes[7] & 0x08 != 0)
        let name = Array("café.jpg".utf8)
        #expect(Array(bytes[30..<(30 + name.count)]) == name)
    }
}
