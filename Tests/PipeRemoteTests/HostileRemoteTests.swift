import Foundation
import PipeEngine
@testable import PipeRemote
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A directory remote that someone wrote hostile things into: listings whose names leave their
/// directory, a fan-out bomb, FIFOs where objects and records should be. Each is refused promptly
/// with a message, nothing enters the local cache, and nothing is written outside it.
struct HostileRemoteTests {
    /// `root/remote` (the shared directory) and `root/local` (a local cache's directory).
    final class Setup {
        let root: TemporaryDirectory
        let remote: RemoteCache
        var remotePath: String { root.path + "/remote" }
        var localPath: String { root.path + "/local" }

        init() throws {
            root = try TemporaryDirectory("hostile-remote")
            try FileManager.default.createDirectory(atPath: root.path + "/remote", withIntermediateDirectories: true)
            let local = try Cache.onDisk(root: root.path + "/local/artifacts")
            // Signatures are not what these tests are about: the records are unsigned, as on a
            // private remote with `require-signatures: false`, so the trees behind them are reached.
            remote = RemoteCache(backend: try DirectoryBackend(root: root.path + "/remote"), local: local,
                                 trust: TrustPolicy(requireSignatures: false))
        }

        /// Writes bytes on the remote under their true digest, so they verify.
        @discardableResult
        func plant(_ data: Data) throws -> Digest {
            let digest = Digest.of(data)
            try write(data, to: RemoteCache.objectPath(digest))
            return digest
        }

        func write(_ data: Data, to relative: String) throws {
            let path = remotePath + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: path))
        }

        /// A remote record of a made-up key whose output is `output`.
        func plantRecord(output: Digest) throws -> Digest {
            let material = KeyValue.map(["salt": .string(UUID().uuidString)])
            let key = material.digest
            let record = ActionRecord(key: key, output: output, log: nil, material: material, stage: "victim", kind: "test",
                                      files: 1, bytes: 6, seconds: 0, created: Date())
            try write(try record.fileData(), to: RemoteCache.recordPath(key))
            return key
        }

        /// Pulls `key` within a deadline; the error it throws.
        func refusal(_ key: Digest) -> Error? {
            switch SpecialFiles.within(seconds: 20, { try self.remote.pull(key) }) {
            case nil:
                Issue.record("the pull did not return")
                return nil
            case .success?:
                Issue.record("the pull was accepted")
                return nil
            case .failure(let error)?:
                return error
            }
        }

        /// Nothing besides the two directories at the top, and no stray file in the local cache.
        func expectNothingOutside(sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["local", "remote"], sourceLocation: sourceLocation)
            #expect(try FileManager.default.contentsOfDirectory(atPath: localPath) == ["artifacts"], sourceLocation: sourceLocation)
            #expect(try FileManager.default.contentsOfDirectory(atPath: localPath + "/artifacts/tmp") == [], sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: localPath + "/artifacts/escaped"), sourceLocation: sourceLocation)
        }
    }

    static let names = ["..", ".", "", "a/b", "../x", "../../escaped", "a\r\nb"]

    @Test(arguments: names)
    func aListingWithAHostileNameIsRefused(name: String) throws {
        let setup = try Setup()
        let file = try setup.plant(Data("owned\n".utf8))
        let hostile = try setup.plant(Data("pipe-tree 1\nf \(file.hex) 6 \(name)\n".utf8))
        // Nested under an innocent root, as one directory of an artifact.
        let root = try setup.plant(Data("pipe-tree 1\nd \(hostile.hex) - data\n".utf8))
        let key = try setup.plantRecord(output: root)
        let error = setup.refusal(key)
        #expect("\(error.map { "\($0)" } ?? "")".hasPrefix("tree \(root.short) from \(setup.remotePath) is refused: corrupted object \(hostile.short): tree listing names"),
                "\(String(describing: error))")
        #expect(try setup.remote.local.actions.record(for: key) == nil)
        #expect(!setup.remote.local.objects.contains(hostile), "the refused listing is not kept")
        #expect(!setup.remote.local.objects.contains(file), "no file of a refused tree is fetched")
        try setup.expectNothingOutside()
    }

    @Test func aFanOutOverTheLimitIsRefusedAfterItsThreeListings() throws {
        let setup = try Setup()
        let file = try setup.plant(Data("x".utf8))
        let width = 2001
        let leaf = try setup.plant(Data(("pipe-tree 1\n" + (0..<width).map { "f \(file.hex) 1 f\($0)\n" }.joined()).utf8))
        let middle = try setup.plant(Data(("pipe-tree 1\n" + (0..<width).map { "d \(leaf.hex) - d\($0)\n" }.joined()).utf8))
        let root = try setup.plant(Data("pipe-tree 1\nd \(middle.hex) - a\nd \(middle.hex) - b\n".utf8))
        let key = try setup.plantRecord(output: root)
        let error = setup.refusal(key)
        #expect("\(error.map { "\($0)" } ?? "")" == "tree \(root.short) from \(setup.remotePath) has more than 4000000 files and directories, the limit per artifact; refused")
        #expect(setup.remote.transferred.objectsFetched == 3, "root, middle and leaf listings only")
        #expect(try setup.remote.local.actions.record(for: key) == nil)
        try setup.expectNothingOutside()
    }

    @Test func aDeepChainOfListingsIsRefused() throws {
        let setup = try Setup()
        var digest = try setup.plant(Data("pipe-tree 1\n".utf8))
        for _ in 0..<300 { digest = try setup.plant(Data("pipe-tree 1\nd \(digest.hex) - d\n".utf8)) }
        let error = setup.refusal(try setup.plantRecord(output: digest))
        #expect("\(error.map { "\($0)" } ?? "")".hasSuffix("nests directories more than 256 deep, the limit per artifact; refused"))
    }

    @Test func aFIFOWhereAnObjectOrARecordShouldBeIsRefusedUnopened() throws {
        let setup = try Setup()
        // The root listing of a record's output is a FIFO.
        let listing = Digest.of(Data("pipe-tree 1\n".utf8))
        let objectPath = setup.remotePath + "/" + RemoteCache.objectPath(listing)
        try FileManager.default.createDirectory(atPath: (objectPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try SpecialFiles.makeFIFO(at: objectPath)
        let error = setup.refusal(try setup.plantRecord(output: listing))
        #expect("\(error.map { "\($0)" } ?? "")" == "\(objectPath) on the remote is a FIFO, not a regular file; remove it from the remote")
        // A record that is a FIFO.
        let key = Digest.of(Data("fifo record".utf8))
        let recordPath = setup.remotePath + "/" + RemoteCache.recordPath(key)
        try FileManager.default.createDirectory(atPath: (recordPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try SpecialFiles.makeFIFO(at: recordPath)
        let recordError = setup.refusal(key)
        #expect("\(recordError.map { "\($0)" } ?? "")" == "\(recordPath) on the remote is a FIFO, not a regular file; remove it from the remote")
        if case .corrupt? = recordError as? RemoteError {} else { Issue.record("expected a corrupt-remote error: \(String(describing: recordError))") }
        try setup.expectNothingOutside()
    }
}
