import Foundation
import PipeEngine
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A FIFO, a device, a socket or a link to one, where a file is read: refused at once, unopened,
/// saying what it is; a reader that blocked would fail the deadline instead of hanging the suite.
struct SpecialFileTests {
    /// The special files of one scratch directory, by label: (path, what the message calls it).
    static func plant(in directory: TemporaryDirectory) throws -> [(label: String, path: String, what: String)] {
        try SpecialFiles.makeFIFO(at: directory.path + "/fifo")
        try SpecialFiles.makeSocket(at: directory.path + "/sock")
        symlink(directory.path + "/fifo", directory.path + "/link-to-fifo")
        try FileManager.default.createDirectory(atPath: directory.path + "/tree/sub", withIntermediateDirectories: true)
        try directory.write("tree/sub/ok.txt", "fine")
        try SpecialFiles.makeFIFO(at: directory.path + "/tree/sub/pipe")
        return [("FIFO", directory.path + "/fifo", "a FIFO"),
                ("device", "/dev/null", "a character device"),
                ("socket", directory.path + "/sock", "a socket"),
                ("link to a FIFO", directory.path + "/link-to-fifo", "a FIFO")]
    }

    @Test func aDependencyThatIsNotARegularFileIsRefusedUnopened() throws {
        let directory = try TemporaryDirectory("special")
        for (label, path, what) in try Self.plant(in: directory) {
            guard let outcome = SpecialFiles.within(seconds: 10, { try Tree.digest(ofPath: path) }) else {
                Issue.record("digesting a \(label) blocked")
                continue
            }
            if case .failure(let error) = outcome {
                #expect("\(error)" == "\(path) is \(what), not a regular file", "\(label): \(error)")
            } else {
                Issue.record("a \(label) was digested")
            }
        }
        // Inside a directory too.
        let inside = SpecialFiles.within(seconds: 10) { try Tree.digest(ofPath: directory.path + "/tree") }
        guard case .failure(let error)? = inside else { Issue.record("a FIFO inside a directory was read or blocked"); return }
        #expect("\(error)" == "\(directory.path)/tree/sub/pipe is a FIFO, not a regular file")
        // A link to a regular file is followed, as before.
        try directory.write("real.txt", "content")
        symlink(directory.path + "/real.txt", directory.path + "/link-to-file")
        #expect(try Tree.digest(ofPath: directory.path + "/link-to-file") == Digest.of(Data("content".utf8)))
    }

    @Test func aDirectoryThatLinksBackIntoItselfIsRefused() throws {
        let directory = try TemporaryDirectory("cycle")
        try FileManager.default.createDirectory(atPath: directory.path + "/a/b", withIntermediateDirectories: true)
        symlink(directory.path + "/a", directory.path + "/a/b/up")
        let outcome = SpecialFiles.within(seconds: 10) { try Tree.digest(ofPath: directory.path + "/a") }
        guard case .failure(let error)? = outcome else { Issue.record("a cycle was digested or hung"); return }
        #expect("\(error)".contains("is a link back to a directory that contains it"), "\(error)")
    }

    /// A FIFO planted as an object of the store: reading it reports a corrupt object at once.
    @Test func aFIFOInTheStoreIsACorruptObject() throws {
        let directory = try TemporaryDirectory("fifo-object")
        let store = try FileContentStore(root: directory.path, temporaryDirectory: directory.path + "/tmp")
        let digest = Digest.of(Data("payload".utf8))
        try FileManager.default.createDirectory(atPath: (store.path(of: digest) as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try SpecialFiles.makeFIFO(at: store.path(of: digest))
        let attempts: [() throws -> Void] = [{ _ = try store.read(digest) },
                                             { try store.materialize(digest, to: directory.path + "/copy", executable: false) }]
        for attempt in attempts {
            guard case .failure(let error)? = SpecialFiles.within(seconds: 10, attempt) else {
                Issue.record("a FIFO object was read or blocked")
                continue
            }
            #expect("\(error)".contains("corrupted object \(digest.short): \(store.path(of: digest)) is a FIFO, not a regular file"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/copy"))
    }
}
