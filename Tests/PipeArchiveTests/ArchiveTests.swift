import Foundation
import PipeArchive
import PipeTestSupport
import Testing

/// Archives built inside the tests: round trips, determinism, and every kind of unsafe archive.
struct ArchiveTests {
    static func build(_ directory: TemporaryDirectory, _ name: String, format: ArchiveWriter.Format = .zip,
                      _ fill: (ArchiveWriter) throws -> Void) throws -> String {
        let path = directory.path + "/" + name
        let writer = try ArchiveWriter(path: path, format: format)
        try fill(writer)
        try writer.finish()
        return path
    }

    static func readAll(_ path: String, limits: ArchiveLimits = ArchiveLimits()) throws -> [String: Data] {
        var files: [String: Data] = [:]
        try ArchiveReader(path: path, limits: limits).forEach { entry, read in
            if entry.kind == .file { files[entry.path] = try read() }
        }
        return files
    }

    @Test(arguments: [ArchiveWriter.Format.zip, .tarGzip, .tarXz, .tarZstd])
    func roundTripAndDeterministicBytes(format: ArchiveWriter.Format) throws {
        let directory = try TemporaryDirectory("archive")
        func make(_ name: String) throws -> String {
            try Self.build(directory, name, format: format) { writer in
                try writer.addDirectory("Images/CT")
                try writer.addFile("Images/CT/a.jpg", Data([1, 2, 3]))
                try writer.addFile("QA_information/Open-access/CT.json", Data(#"[{"question_id": "1"}]"#.utf8))
            }
        }
        let first = try make("one.\(format.rawValue)"), second = try make("two.\(format.rawValue)")
        #expect(FileManager.default.contents(atPath: first) == FileManager.default.contents(atPath: second))
        let files = try Self.readAll(first)
        #expect(files == ["Images/CT/a.jpg": Data([1, 2, 3]),
                          "QA_information/Open-access/CT.json": Data(#"[{"question_id": "1"}]"#.utf8)])
    }

    @Test func pathsAreNormalized() throws {
        let directory = try TemporaryDirectory("archive")
        let path = try Self.build(directory, "n.zip") { try $0.addFile("./a//b/./c.txt", Data("x".utf8)) }
        #expect(try Self.readAll(path).keys.sorted() == ["a/b/c.txt"])
    }

    struct Unsafe: CustomTestStringConvertible, Sendable {
        var name: String
        var format: ArchiveWriter.Format
        var message: String
        var fill: @Sendable (ArchiveWriter) throws -> Void
        var testDescription: String { name }
    }

    static let unsafeArchives: [Unsafe] = [
        Unsafe(name: "parent traversal", format: .zip, message: "refused entry `../evil.txt`: absolute path or `..` would write outside the destination") {
            try $0.addFile("../evil.txt", Data("x".utf8))
        },
        Unsafe(name: "nested traversal", format: .tarGzip, message: "refused entry `Images/../../evil`") {
            try $0.addFile("Images/../../evil", Data("x".utf8))
        },
        Unsafe(name: "absolute path", format: .tarGzip, message: "refused entry `/etc/passwd`") {
            try $0.addFile("/etc/passwd", Data("x".utf8))
        },
        Unsafe(name: "symlink outside", format: .tarGzip, message: "refused entry `Images/link`: symbolic link to `../../etc` points outside the destination") {
            try $0.addSymlink("Images/link", target: "../../etc")
        },
        Unsafe(name: "absolute symlink", format: .tarGzip, message: "symbolic link to `/etc/passwd` points outside") {
            try $0.addSymlink("link", target: "/etc/passwd")
        },
        Unsafe(name: "character device", format: .tarGzip, message: "refused entry `dev/null`: device, FIFO or socket entries are not allowed") {
            try $0.addSpecial("dev/null", type: 0o020000)
        },
        Unsafe(name: "FIFO", format: .tarGzip, message: "device, FIFO or socket") {
            try $0.addSpecial("pipe", type: 0o010000)
        },
    ]

    @Test(arguments: unsafeArchives)
    func unsafeEntriesAreRefused(_ test: Unsafe) throws {
        let directory = try TemporaryDirectory("archive")
        let path = try Self.build(directory, "bad.\(test.format.rawValue)", format: test.format) { writer in
            try writer.addFile("ok.txt", Data("fine".utf8))
            try test.fill(writer)
        }
        let error = try #require(throws: ArchiveError.self) { try Self.readAll(path) }
        #expect(error.description.contains(test.message), "\(error)")
    }

    @Test func symlinkInsideIsAllowed() throws {
        let directory = try TemporaryDirectory("archive")
        let path = try Self.build(directory, "ok.tar.gz", format: .tarGzip) { try $0.addSymlink("a/b", target: "../c") }
        var kinds: [ArchiveEntry.Kind] = []
        try ArchiveReader(path: path).forEach { entry, _ in kinds.append(entry.kind) }
        #expect(kinds == [.symlink("../c")])
    }

    @Test func entryCountBombIsRefused() throws {
        let directory = try TemporaryDirectory("archive")
        let path = try Self.build(directory, "many.zip") { writer in
            for i in 0..<50 { try writer.addFile("f\(i)", Data()) }
        }
        let error = try #require(throws: ArchiveError.self) { try Self.readAll(path, limits: ArchiveLimits(maxEntries: 20)) }
        #expect(error.description.contains("more than 20 entries"))
    }

    @Test func sizeAndRatioBombsAreRefused() throws {
        let directory = try TemporaryDirectory("archive")
        let zeros = Data(count: 8 << 20)
        let path = try Self.build(directory, "bomb.zip") { try $0.addFile("zeros.bin", zeros) }
        #expect(FileManager.default.contents(atPath: path)!.count < 100_000)
        let ratio = try #require(throws: ArchiveError.self) {
            try Self.readAll(path, limits: ArchiveLimits(maxCompressionRatio: 50, ratioGrace: 1 << 20))
        }
        #expect(ratio.description.contains("expands more than 50x"))
        let total = try #require(throws: ArchiveError.self) { try Self.readAll(path, limits: ArchiveLimits(maxTotalBytes: 1 << 20)) }
        #expect(total.description.contains("unpacks to more than 1048576 bytes"))
        let entry = try #require(throws: ArchiveError.self) { try Self.readAll(path, limits: ArchiveLimits(maxEntryBytes: 1 << 20)) }
        #expect(entry.description.contains("zeros.bin"))
        // Within the limits it reads.
        #expect(try Self.readAll(path)["zeros.bin"] == zeros)
    }

    @Test(arguments: [ArchiveWriter.Format.zip, .tarGzip, .tarXz, .tarZstd])
    func truncatedArchiveIsCorrupt(format: ArchiveWriter.Format) throws {
        let directory = try TemporaryDirectory("archive")
        var random = SystemRandomNumberGenerator()
        let noise = Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &random) })
        let path = try Self.build(directory, "full.\(format.rawValue)", format: format) { writer in
            try writer.addFile("a.bin", noise)
            try writer.addFile("b.bin", noise)
        }
        let bytes = FileManager.default.contents(atPath: path)!
        let truncated = directory.path + "/cut.\(format.rawValue)"
        #expect(FileManager.default.createFile(atPath: truncated, contents: bytes.prefix(bytes.count * 2 / 3)))
        let error = try #require(throws: ArchiveError.self) { try Self.readAll(truncated) }
        #expect(error.description.hasPrefix("corrupt or truncated archive"), "\(error)")
    }

    @Test func garbageAndMissingFilesAreErrors() throws {
        let directory = try TemporaryDirectory("archive")
        let garbage = try directory.write("garbage.zip", String(repeating: "not an archive ", count: 100))
        #expect(throws: ArchiveError.self) { try Self.readAll(garbage) }
        let missing = try #require(throws: ArchiveError.self) { try Self.readAll(directory.path + "/none.zip") }
        #expect(missing.description.contains("no such file"))
    }
}
