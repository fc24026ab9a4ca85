import Foundation
import PipeEngine
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hostile tree listings (names that leave their directory, duplicates, fan-out bombs, deep
/// nesting) in a tampered cache: refused as corrupt or too large, and nothing written outside the
/// target directory.
struct TreeSafetyTests {
    /// A listing's bytes with one file entry named `name`, pointing at a real object.
    static func listing(naming name: String, file: Digest, size: Int = 6) -> Data {
        Data("pipe-tree 1\nf \(file.hex) \(size) \(name)\n".utf8)
    }

    static let hostileNames: [(name: String, message: String)] = [
        ("..", "names an entry `..`, which would leave its directory"),
        (".", "names an entry `.`, which would name the directory itself"),
        ("", "names an entry ``, which is empty"),
        ("a/b", "names an entry `a/b`, which contains `/`"),
        ("../x", "names an entry `../x`, which contains `/`"),
        ("../../escaped", "names an entry `../../escaped`, which contains `/`"),
        ("a\u{0}b", #"names an entry "a\0b", which contains a NUL byte"#),
        ("a\r\nb", #"names an entry "a\r\nb", which contains a newline"#),
        ("a\rb", #"names an entry "a\rb", which contains a carriage return"#),
    ]

    @Test(arguments: hostileNames)
    func hostileNameIsACorruptListing(name: String, message: String) throws {
        let store = MemoryContentStore()
        let file = try store.write(Data("owned\n".utf8))
        let digest = try store.write(Self.listing(naming: name, file: file))
        do {
            _ = try Tree.load(digest, from: store)
            Issue.record("a listing naming \(name.debugDescription) was accepted")
        } catch let error as EngineError {
            guard case .corruptObject(let named, _) = error else { Issue.record("\(error)"); return }
            #expect(named == digest)
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".hasSuffix("; refused"), "\(error)")
        }
    }

    /// Names that are odd but harmless survive encoding and decoding: a leading combining mark
    /// (which joins the space before it into one Character), spaces, non-ASCII text.
    @Test(arguments: ["\u{301}y", "a b  c", " lead", "肺部CT.png", "e\u{301}"])
    func oddButHarmlessNamesRoundTrip(name: String) throws {
        let file = Digest.of(Data("owned\n".utf8))
        let names = [name, "z"].sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let listing = Data(("pipe-tree 1\n" + names.map { "f \(file.hex) 6 \($0)\n" }.joined()).utf8)
        let decoded = try Tree(decoding: listing, digest: Digest.of(listing))
        #expect(decoded.entries.map(\.name) == names)
        #expect(decoded.encoded == listing)
    }

    @Test func newlineSplitNameAndDuplicatesAndBadSizesAreRefused() throws {
        let store = MemoryContentStore()
        let file = try store.write(Data("owned\n".utf8))
        let cases: [(String, String)] = [
            ("f \(file.hex) 6 a\nb\n", "bad tree line `b`"),
            ("f \(file.hex) 6 a\nf \(file.hex) 6 a\n", "names the entry `a` twice"),
            ("f \(file.hex) 6 a\nd \(file.hex) - a\n", "names the entry `a` twice"),
            ("f \(file.hex) -6 a\n", "a file's size is a whole number"),
            ("d \(file.hex) 6 a\n", "a directory has no size"),
        ]
        for (body, message) in cases {
            let digest = try store.write(Data(("pipe-tree 1\n" + body).utf8))
            #expect(throws: EngineError.self) { try Tree.load(digest, from: store) }
            do { _ = try Tree.load(digest, from: store) } catch { #expect("\(error)".contains(message), "\(error)") }
        }
    }

    /// The names planted in an on-disk store under their true digest (so they verify): materializing
    /// refuses before creating anything, so neither the target nor anything beside it appears.
    @Test(arguments: hostileNames.map { $0.name })
    func materializingAHostileTreeWritesNothing(name: String) throws {
        let root = try TemporaryDirectory("hostile-tree")
        let cache = try Cache.onDisk(root: root.path + "/artifacts")
        let file = try cache.objects.write(Data("owned\n".utf8))
        let inner = try cache.objects.write(Self.listing(naming: name, file: file))
        // The hostile listing one level down, as a stage's subdirectory.
        let outer = try cache.objects.write(Data("pipe-tree 1\nf \(file.hex) 6 fine.txt\nd \(inner.hex) - sub\n".utf8))
        try FileManager.default.createDirectory(atPath: root.path + "/out", withIntermediateDirectories: true)
        for digest in [inner, outer] {
            #expect(throws: EngineError.self) { try Tree.materialize(digest, from: cache.objects, into: root.path + "/out/target") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path + "/out") == [])
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["artifacts", "out"])
            #expect(throws: EngineError.self) { try Tree.walk(digest, in: cache.objects) }
        }
    }

    @Test func materializingNeverFollowsALinkPlantedAtTheTarget() throws {
        let root = try TemporaryDirectory("planted-link")
        let cache = try Cache.onDisk(root: root.path + "/artifacts")
        let file = try cache.objects.write(Data("owned\n".utf8))
        let tree = try cache.objects.write(Self.listing(naming: "payload", file: file))
        try FileManager.default.createDirectory(atPath: root.path + "/elsewhere", withIntermediateDirectories: true)
        symlink(root.path + "/elsewhere", root.path + "/target")
        symlink(root.path + "/nowhere", root.path + "/dangling")
        for target in ["target", "dangling"] {
            do {
                try Tree.materialize(tree, from: cache.objects, into: root.path + "/" + target)
                Issue.record("materialized through a link")
            } catch {
                #expect("\(error)".contains("already exists"), "\(error)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path + "/elsewhere") == [])
        #expect(!FileManager.default.fileExists(atPath: root.path + "/nowhere"))
        // A fresh target works, and its file is the verified object.
        try Tree.materialize(tree, from: cache.objects, into: root.path + "/fresh/copy")
        #expect(root.read("fresh/copy/payload") == "owned\n")
    }

    /// A listing of `width` directories all naming one listing of `width` files: two small objects
    /// that describe width * (width + 1) paths.
    static func fanOut(width: Int, in store: ContentStore) throws -> Digest {
        let file = try store.write(Data("x".utf8))
        let leaf = try store.write(Data(("pipe-tree 1\n" + (0..<width).map { "f \(file.hex) 1 f\($0)\n" }.joined()).utf8))
        return try store.write(Data(("pipe-tree 1\n" + (0..<width).map { "d \(leaf.hex) - d\($0)\n" }.joined()).utf8))
    }

    @Test func aFanOutOverTheLimitIsRefusedBeforeAnythingIsWritten() throws {
        let root = try TemporaryDirectory("fan-out")
        let cache = try Cache.onDisk(root: root.path + "/artifacts")
        // 2001 x 2002 paths: over the standard limit of 4,000,000.
        let bomb = try Self.fanOut(width: 2001, in: cache.objects)
        let attempts: [() throws -> Void] = [{ _ = try Tree.walk(bomb, in: cache.objects) },
                                             { try Tree.materialize(bomb, from: cache.objects, into: root.path + "/out") },
                                             { try cache.checkOutput(bomb) }]
        for attempt in attempts {
            do {
                try attempt()
                Issue.record("a fan-out bomb was accepted")
            } catch {
                #expect("\(error)" == "tree \(bomb.short) refused: it has more than 4000000 files and directories, the limit per artifact")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: root.path + "/out"))
        // Under a limit it fits, it is walked.
        let small = try Self.fanOut(width: 3, in: cache.objects)
        #expect(try Tree.walk(small, in: cache.objects).files.count == 9)
        #expect(throws: EngineError.self) { try Tree.walk(small, in: cache.objects, limits: .init(maxEntries: 11)) }
    }

    @Test func nestingDeeperThanTheLimitIsRefused() throws {
        let store = MemoryContentStore()
        var digest = try store.write(Data("pipe-tree 1\n".utf8))
        for _ in 0..<300 { digest = try store.write(Data("pipe-tree 1\nd \(digest.hex) - d\n".utf8)) }
        do {
            _ = try Tree.walk(digest, in: store)
            Issue.record("a 300-deep tree was accepted")
        } catch {
            #expect("\(error)".contains("nests directories more than 256 deep, the limit per artifact"), "\(error)")
        }
    }

    @Test func anOutputOverTheLimitIsRefusedWhenStored() throws {
        let root = try TemporaryDirectory("big-output")
        try FileManager.default.createDirectory(atPath: root.path + "/out/a/b/c", withIntermediateDirectories: true)
        for i in 0..<5 { try root.write("out/a/f\(i)", "\(i)") }
        let store = MemoryContentStore()
        #expect(throws: EngineError.self) { try Tree.ingest(directory: root.path + "/out", into: store, limits: .init(maxEntries: 4)) }
        #expect(throws: EngineError.self) { try Tree.ingest(directory: root.path + "/out", into: store, limits: .init(maxDepth: 3)) }
    }
}
