import Foundation
import PipeEngine
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hostile caches and remotes through the built binary: tree listings whose names leave their
/// directory (planted in a directory remote and in the local cache under their true digests), a
/// fan-out bomb, special files as inputs, and repairing corrupted objects.
struct HostileCacheCommandTests {
    static let names = ["..", ".", "", "a/b", "../x", "../../escaped", "a\r\nb"]

    /// The cache of `root` (a project or a remote directory), tampered with as an attacker could.
    struct Tampering {
        let root: String

        /// Writes bytes under their true digest, so that they verify; returns the digest.
        @discardableResult
        func plant(_ data: Data) throws -> Digest {
            let digest = Digest.of(data)
            let path = "\(root)/objects/\(digest.hex.prefix(2))/\(digest.hex.dropFirst(2))"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            chmod(path, 0o644)
            try data.write(to: URL(fileURLWithPath: path))
            return digest
        }

        /// A tree with one file named `name`.
        func hostileTree(naming name: String) throws -> Digest {
            let file = try plant(Data("owned\n".utf8))
            return try plant(Data("pipe-tree 1\nf \(file.hex) 6 \(name)\n".utf8))
        }

        /// Two listings describing 2001 x 2002 paths, over the limit of 4,000,000.
        func fanOut() throws -> Digest {
            let file = try plant(Data("x".utf8))
            let leaf = try plant(Data(("pipe-tree 1\n" + (0..<2001).map { "f \(file.hex) 1 f\($0)\n" }.joined()).utf8))
            return try plant(Data(("pipe-tree 1\n" + (0..<2001).map { "d \(leaf.hex) - d\($0)\n" }.joined()).utf8))
        }

        /// Points the record of `stage` at `output` (header and JSON) and returns the old output.
        @discardableResult
        func redirect(stage: String, to output: Digest) throws -> Digest {
            for prefix in try FileManager.default.contentsOfDirectory(atPath: root + "/actions") {
                for name in try FileManager.default.contentsOfDirectory(atPath: "\(root)/actions/\(prefix)") {
                    let path = "\(root)/actions/\(prefix)/\(name)"
                    let text = try String(contentsOfFile: path, encoding: .utf8)
                    guard text.contains(#""stage":"\#(stage)""#) else { continue }
                    let old = String(text.split(separator: " ")[2])
                    // The colleague's signature no longer holds: drop it, as an attacker would.
                    let unsigned = text.replacingOccurrences(of: #""signature":\{[^}]*\},"#, with: "", options: .regularExpression)
                    try unsigned.replacingOccurrences(of: old, with: output.hex).write(toFile: path, atomically: true, encoding: .utf8)
                    return Digest(hex: old)!
                }
            }
            throw CocoaError(.fileNoSuchFile)
        }
    }

    static func listing(_ path: String) -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []) }

    @Test(arguments: names)
    func aHostileTreeInTheLocalCacheIsRefused(name: String) throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        let cache = Tampering(root: project.path + "/artifacts")
        let hostile = try cache.hostileTree(naming: name)
        try cache.redirect(stage: "make", to: hostile)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [project.path + "/artifacts/ledger.sqlite", "UPDATE stageRun SET output = '\(hostile.hex)' WHERE stage = 'make'"]
        try sqlite.run()
        sqlite.waitUntilExit()
        let before = Self.listing(project.path)

        let get = try project.pipe("get", "latest", "make", "--out", "out/make")
        #expect(get.status == 2)
        #expect(get.stderr.contains("cannot copy the output of `make`: corrupted object \(hostile.short): tree listing names an entry"), "\(get.stderr)")
        #expect(get.stderr.contains("hint: `pipe cache verify --repair` removes damaged results"), "\(get.stderr)")
        #expect(Self.listing(project.path) == before, "nothing written beside --out")

        // A run finds the damaged hit, drops it and recomputes the stage.
        let run = try project.pipe("run", "chain.yaml")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(CLIProject.normalize(run.stdout).contains("make command ran TIME cached output corrupted (corrupted object \(hostile.short): tree listing names an entry"), "\(run.stdout)")
        #expect(run.stdout.contains("1 ran, 2 cached"), "\(run.stdout)")
        #expect(Self.listing(project.path) == before, "nothing written outside the cache")
        #expect(Self.listing(project.path + "/artifacts").isSubset(of: ["objects", "actions", "locks", "tmp", "ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "ledger.sqlite.lock"]))
        #expect(try project.pipe("cache", "verify").status == 0)
    }

    @Test(arguments: names)
    func aHostileTreeOnADirectoryRemoteIsRefused(name: String) throws {
        let shared = try TemporaryDirectory("hostile-shared")
        let colleague = try CLIProject(), me = try CLIProject()
        // A private remote whose records need no signature: the tampered tree is reached (with
        // signatures required, the unsigned record would be ignored before any tree is read).
        for project in [colleague, me] { try project.directory.write("pipe.yaml", "remote: {url: \(shared.path), require-signatures: false}\n") }
        #expect(try colleague.pipe("run", "chain.yaml").status == 0)
        let remote = Tampering(root: shared.path)
        let hostile = try remote.hostileTree(naming: name)
        try remote.redirect(stage: "make", to: hostile)
        let before = Self.listing(me.path)

        let run = try me.pipe("run", "chain.yaml")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("tree \(hostile.short) from \(shared.path) is refused: corrupted object \(hostile.short): tree listing names an entry"), "\(run.stderr)")
        // The stage runs locally instead; the others (untouched on the remote) are pulled.
        #expect(run.stdout.contains("1 ran, 2 cached"), "\(run.stdout)")
        #expect(Self.listing(me.path) == before.union(["artifacts"]), "nothing written outside the cache")
        #expect(Self.listing(shared.path).isSubset(of: ["objects", "actions", "tmp"]))
        #expect(!FileManager.default.fileExists(atPath: me.path + "/artifacts/objects/\(hostile.hex.prefix(2))/\(hostile.hex.dropFirst(2))"))
        let get = try me.pipe("get", "latest", "make", "--out", "out/make")
        #expect(get.status == 0 && me.directory.read("out/make/words.txt") == "hello\n", "\(get.stderr)")
        #expect(Self.listing(me.path + "/out") == ["make"])
    }

    @Test func aFanOutOverTheLimitIsRefusedByGetAndRun() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        let cache = Tampering(root: project.path + "/artifacts")
        let bomb = try cache.fanOut()
        try cache.redirect(stage: "make", to: bomb)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [project.path + "/artifacts/ledger.sqlite", "UPDATE stageRun SET output = '\(bomb.hex)' WHERE stage = 'make'"]
        try sqlite.run()
        sqlite.waitUntilExit()
        guard let get = try SpecialFiles.runPipe(["get", "latest", "make", "--out", "out"], in: project.path, seconds: 60) else {
            Issue.record("pipe get did not return")
            return
        }
        #expect(get.status == 2)
        #expect(get.stderr.contains("tree \(bomb.short) refused: it has more than 4000000 files and directories, the limit per artifact"), "\(get.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/out"))
        guard let run = try SpecialFiles.runPipe(["run", "chain.yaml"], in: project.path, seconds: 60) else {
            Issue.record("pipe run did not return")
            return
        }
        #expect(run.status == 0 && run.stdout.contains("the limit per artifact"), "\(run.stdout)\(run.stderr)")
    }

    /// The special files of a project, by label, with what the message calls them.
    static func specialFiles(in project: CLIProject) throws -> [(label: String, path: String, what: String)] {
        try SpecialFiles.makeFIFO(at: project.path + "/fifo")
        // Socket paths are limited to 108 bytes: a short directory of its own.
        let socketDirectory = "/tmp/pipe-sock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        try SpecialFiles.makeSocket(at: socketDirectory + "/s")
        symlink(project.path + "/fifo", project.path + "/link-to-fifo")
        return [("FIFO", project.path + "/fifo", "a FIFO"),
                ("device", "/dev/null", "a character device"),
                ("socket", socketDirectory + "/s", "a socket"),
                ("link to a FIFO", project.path + "/link-to-fifo", "a FIFO")]
    }

    @Test func specialFilesAsDepsOrUnpackPathAreRefusedPromptly() throws {
        let project = try CLIProject()
        for (label, path, what) in try Self.specialFiles(in: project) {
            try project.directory.write("deps.yaml", """
                pipe: 1
                name: deps
                stages:
                  tool:
                    kind: command
                    deps: [\(path)]
                    command: echo hi > "$PIPE_OUT/hi.txt"
                """)
            try project.directory.write("unpack.yaml", """
                pipe: 1
                name: unpack
                stages:
                  data:
                    kind: unpack
                    with: {path: \(path)}
                """)
            let field = ["deps.yaml": "stages.tool.deps", "unpack.yaml": "stages.data.with.path"]
            for recipe in ["deps.yaml", "unpack.yaml"] {
                for command in ["validate", "status", "dag", "run"] {
                    guard let result = try SpecialFiles.runPipe([command, recipe], in: project.path) else {
                        Issue.record("`pipe \(command) \(recipe)` blocked on a \(label)")
                        continue
                    }
                    #expect(result.status == 2, "\(command) \(recipe) \(label): \(result.stderr)")
                    #expect(result.stderr.contains("\(field[recipe]!): cannot read dependency `\(path)` (\(path)): \(path) is \(what), not a regular file"),
                            "\(command) \(recipe) \(label): \(result.stderr)")
                    #expect(result.stderr.contains("hint: name regular files or directories"), "\(result.stderr)")
                }
            }
        }
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"), "nothing ran")
    }

    /// Overwrites the object holding `content` in the project's cache with `replacement`.
    static func corrupt(_ project: CLIProject, holding content: String, with replacement: String) throws {
        let path = project.path + "/artifacts/objects/" + String(Digest.of(Data(content.utf8)).hex.prefix(2)) + "/"
            + String(Digest.of(Data(content.utf8)).hex.dropFirst(2))
        #expect(FileManager.default.fileExists(atPath: path))
        chmod(path, 0o644)
        try Data(replacement.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func verifyRepairRemovesCorruptObjectsAndTheRecordsThatReachThem() throws {
        let project = try CLIProject()
        let first = try project.pipe("run", "chain.yaml")
        #expect(first.status == 0)
        try Self.corrupt(project, holding: "hello\n", with: "HACKED\n")
        let verify = try project.pipe("cache", "verify")
        #expect(verify.status == 1 && verify.stdout.contains("`pipe cache verify --repair` removes what they affect"), "\(verify.stdout)")
        let repair = try project.pipe("cache", "verify", "--repair")
        #expect(repair.status == 0, "\(repair.stderr)")
        let object = Digest.of(Data("hello\n".utf8)).short
        let lines = repair.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("removed object \(object) (corrupted object \(object): ") && $0.hasSuffix("does not hash to its name)") }, "\(repair.stdout)")
        #expect(lines.contains { $0.hasPrefix("removed record ") && $0.hasSuffix("(stage `make`, file words.txt is missing or corrupted)") }, "\(repair.stdout)")
        #expect(lines.last?.hasSuffix(" objects, 3 records verified; removed 1 corrupted objects and 1 results that reached them (the next `pipe run` recomputes those stages)") == true,
                "\(repair.stdout)")
        #expect(lines.last?.hasPrefix("repaired: ") == true)
        #expect(try project.pipe("cache", "verify").status == 0)
        #expect(try project.pipe("cache", "verify", "--repair").stdout.hasPrefix("cache ok: "))
        let rerun = try project.pipe("run", "chain.yaml")
        #expect(CLIProject.normalize(rerun.stdout).contains("make command ran TIME"), "\(rerun.stdout)")
        #expect(rerun.stdout.contains("1 ran, 2 cached"), "\(rerun.stdout)")
        #expect(try project.pipe("cache", "verify").status == 0)
    }

    @Test func aHitWithACorruptedOutputAndAForcedRunRecompute() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        // `count` is read by no stage: its hit notices the damage (a size that does not match).
        try Self.corrupt(project, holding: "6\n", with: "666\n")
        let hit = try project.pipe("run", "chain.yaml")
        #expect(CLIProject.normalize(hit.stdout).contains("count command ran TIME cached output corrupted (corrupted object"), "\(hit.stdout)")
        #expect(hit.stdout.contains("1 ran, 2 cached"), "\(hit.stdout)")
        #expect(try project.pipe("cache", "verify").status == 0)
        // Same size: the hit cannot tell, but forcing the stage stores a good copy over it.
        try Self.corrupt(project, holding: "hello\n", with: "HELLO\n")
        let forced = try project.pipe("run", "chain.yaml", "--force", "make")
        #expect(forced.status == 0 && CLIProject.normalize(forced.stdout).contains("make command ran TIME forced"), "\(forced.stdout)")
        #expect(forced.stdout.contains("1 ran, 2 cached"), "\(forced.stdout)")
        #expect(try project.pipe("cache", "verify").status == 0)
    }
}
