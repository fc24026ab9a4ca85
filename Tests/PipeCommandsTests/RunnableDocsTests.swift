import Foundation
import PipeTestSupport
import Testing

/// Every shell block marked `<!-- runnable -->` in README.md and docs/**/*.md works as written
/// (docs/README.md, "Runnable command blocks"): run from the root of a copy of the checkout, with
/// the built `pipe` first on `PATH`, `PIPE_CACHE` a new empty directory per page, the page's blocks
/// in order, one shell per block, every command exiting 0.
struct RunnableDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let marker = "<!-- runnable -->"
    /// A hang guard, not a timing test: a runnable block takes seconds.
    static let limitSeconds = 300

    /// One runnable block: where it is and what it says.
    struct Block: Equatable, CustomStringConvertible {
        var line: Int
        var script: String
        var firstLine: String { script.split(separator: "\n").first.map(String.init) ?? "" }
        var description: String { "line \(line): \(firstLine)" }
    }

    /// A block that did not work, with what the page's reader needs to fix it.
    struct Failure: CustomStringConvertible {
        var page: String
        var block: Block
        var status: Int32
        var output: String
        var description: String {
            let what = status == 124 ? "timed out after \(RunnableDocsTests.limitSeconds)s" : "exited \(status)"
            return "\(page):\(block.line): the runnable block starting `\(block.firstLine)` \(what):\n\(output)"
        }
    }

    enum ParseError: Error, CustomStringConvertible {
        case noFence(line: Int), unclosed(line: Int)
        var description: String {
            switch self {
            case .noFence(let line): "line \(line): `\(RunnableDocsTests.marker)` is not followed by a ```sh block"
            case .unclosed(let line): "line \(line): the runnable block is not closed with ```"
            }
        }
    }

    /// The runnable blocks of a page, in order. A marker must be followed (blank lines aside) by a
    /// ```sh, ```bash or ```shell fence; `line` is the first command's line.
    static func blocks(in page: String) throws -> [Block] {
        let lines = page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [Block] = []
        var index = 0
        while index < lines.count {
            defer { index += 1 }
            guard lines[index].trimmingCharacters(in: .whitespaces) == marker else { continue }
            let markerLine = index + 1
            index += 1
            while index < lines.count, lines[index].trimmingCharacters(in: .whitespaces).isEmpty { index += 1 }
            guard index < lines.count, ["```sh", "```bash", "```shell"].contains(lines[index].trimmingCharacters(in: .whitespaces)) else {
                throw ParseError.noFence(line: markerLine)
            }
            let start = index + 1
            guard let end = lines[start...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "```" }) else {
                throw ParseError.unclosed(line: markerLine)
            }
            blocks.append(Block(line: start + 1, script: lines[start..<end].joined(separator: "\n")))
            index = end
        }
        return blocks
    }

    /// README.md and every page under docs/, relative to the repository.
    static func pages() throws -> [String] {
        var pages = ["README.md"]
        let docs = root + "/docs"
        guard let walker = FileManager.default.enumerator(atPath: docs) else { return pages }
        for case let path as String in walker where path.hasSuffix(".md") { pages.append("docs/" + path) }
        return pages.sorted()
    }

    /// The pages that have runnable blocks (a test argument each).
    static let runnablePages: [String] = ((try? pages()) ?? []).filter { page in
        let text = (try? String(contentsOfFile: root + "/" + page, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces) == marker }
    }

    /// A copy of the checkout as a fresh clone would have it (tracked and new unignored files), so
    /// that the blocks write nothing into the repository.
    static func cloneCheckout(into directory: String) throws {
        let listing = try run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], in: root, environment: [:])
        try #require(listing.status == 0, "git ls-files failed: \(listing.output)")
        let manager = FileManager.default
        for path in listing.output.split(separator: "\0").map(String.init) {
            let source = root + "/" + path, target = directory + "/" + path
            guard manager.fileExists(atPath: source) else { continue }  // deleted in the working tree
            try manager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try manager.copyItem(atPath: source, toPath: target)
        }
    }

    /// Runs `arguments` in `directory`, stdout and stderr together, under the hang guard.
    static func run(_ arguments: [String], in directory: String, environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=10", "\(limitSeconds)"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var variables = ProcessInfo.processInfo.environment
        for (name, value) in environment { variables[name] = value }
        process.environment = variables
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// Runs a page's blocks in order in `directory`, one `sh -e` each, with the built binary first
    /// on `PATH` and `PIPE_CACHE` a new empty directory; returns the blocks that failed.
    static func runBlocks(_ blocks: [Block], of page: String, in directory: String) throws -> [Failure] {
        let cache = try TemporaryDirectory("runnable-cache")
        let binaryDirectory = (PipeBinary.path as NSString).deletingLastPathComponent
        let environment = [
            "PATH": binaryDirectory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "PIPE_CACHE": cache.path,
            "TERM": "dumb",
        ]
        var failures: [Failure] = []
        for block in blocks {
            let result = try run(["/bin/sh", "-e", "-c", block.script], in: directory, environment: environment)
            if result.status != 0 { failures.append(Failure(page: page, block: block, status: result.status, output: result.output)) }
        }
        return failures
    }

    @Test func theDocumentedPagesHaveRunnableBlocks() {
        #expect(Self.runnablePages.contains("README.md"))
        #expect(Self.runnablePages.contains("docs/caching.md"))
        #expect(Self.runnablePages.count >= 8, "\(Self.runnablePages)")
    }

    @Test(arguments: RunnableDocsTests.runnablePages)
    func everyRunnableBlockWorksAsWritten(_ page: String) throws {
        let text = try String(contentsOfFile: Self.root + "/" + page, encoding: .utf8)
        let blocks = try Self.blocks(in: text)
        try #require(!blocks.isEmpty, "\(page) has a runnable marker but no block")
        let clone = try TemporaryDirectory("runnable-docs")
        try Self.cloneCheckout(into: clone.path)
        for failure in try Self.runBlocks(blocks, of: page, in: clone.path) {
            Issue.record(Comment(rawValue: failure.description))
        }
    }

    @Test func aMarkerFindsItsBlockAndSkipsOtherFences() throws {
        let page = """
            # Page
            Mentioning `<!-- runnable -->` inline marks nothing.
            ```sh
            not run
            ```
            <!-- runnable -->

            ```sh
            echo one
            echo two
            ```
            """
        #expect(try Self.blocks(in: page) == [Block(line: 9, script: "echo one\necho two")])
    }

    @Test(arguments: [
        ("<!-- runnable -->\nplain text\n", "line 1: `<!-- runnable -->` is not followed by a ```sh block"),
        ("<!-- runnable -->\n```yaml\na: 1\n```\n", "line 1: `<!-- runnable -->` is not followed by a ```sh block"),
        ("text\n<!-- runnable -->\n```sh\necho\n", "line 2: the runnable block is not closed with ```"),
    ])
    func aMisplacedMarkerIsAnError(_ page: String, _ message: String) {
        #expect { try Self.blocks(in: page) } throws: { "\($0)" == message }
    }

    /// A failing command fails its block (even when a later one would succeed), and the failure
    /// names the page, the block's first line, the exit code and the output; later blocks still run
    /// with the same cache.
    @Test func aFailingBlockIsReportedWithPageLineExitCodeAndOutput() throws {
        let scratch = try TemporaryDirectory("runnable-docs")
        let blocks = [
            Block(line: 3, script: "echo \"cache=$PIPE_CACHE\" > seen.txt\necho partial output\nexit 3\necho never"),
            Block(line: 9, script: "false\ntrue"),
            Block(line: 14, script: "command -v pipe\ntest -d \"$PIPE_CACHE\""),
        ]
        let failures = try Self.runBlocks(blocks, of: "docs/example.md", in: scratch.path)
        #expect(failures.map(\.block.line) == [3, 9])
        #expect(failures.map(\.status) == [3, 1])
        #expect(failures.first?.description == "docs/example.md:3: the runnable block starting `echo \"cache=$PIPE_CACHE\" > seen.txt` exited 3:\npartial output\n")
        #expect(scratch.read("seen.txt")?.hasPrefix("cache=/") == true)
    }
}
