import Foundation
import PipeTestSupport
import Testing

/// A bundle audited where nothing else is: no checkout, no cache, no remote. The bundle carries the
/// recipe's `deps` files (a `../` path included) and what a comparison needs; stages re-execute in
/// order, each from the one before it once that reproduced.
struct AuditBundleTests {
    static let recipe = """
        pipe: 1
        name: bundled
        seed: 3
        stages:
          data:
            kind: command
            command: seq 1 50 > "$PIPE_OUT/data.txt"
          stats:
            kind: command
            inputs: {data: data}
            deps: [tools/summarize.sh, ../shared/scale.txt]
            command: |
              sh tools/summarize.sh "$PIPE_IN_data/data.txt" "$(cat ../shared/scale.txt)" > "$PIPE_OUT/metrics.json"
          noisy:
            kind: command
            command: date +%s%N > "$PIPE_OUT/now.txt"
        """

    /// The author's project: `lab/recipe.yaml`, its script, and a file beside `lab/`; run once.
    static func authorsRun() throws -> CLIProject {
        let author = try CLIProject()
        try author.directory.write("lab/recipe.yaml", recipe)
        try author.directory.write("lab/tools/summarize.sh", "awk -v s=\"$2\" '{ t += $1 } END { printf \"{\\\"total\\\": %d}\\n\", t * s }' \"$1\"\n")
        try author.directory.write("shared/scale.txt", "2\n")
        let run = try author.pipe("run", "lab/recipe.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        return author
    }

    @Test func aBundleIsAuditedInAnEmptyDirectoryWithoutACacheOrRemote() throws {
        let author = try Self.authorsRun()
        let export = try author.pipe("audit", "--export", "latest", "bundle")
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("outputs/ (3 stages), metrics/ (1 stages), 2 deps files in objects/"), "\(export.stdout)")
        #expect(FileManager.default.fileExists(atPath: author.path + "/bundle/deps.json"))

        let reviewer = try TemporaryDirectory("reviewer")
        #expect(BackgroundProcess.run("/bin/cp", ["-R", author.path + "/bundle", reviewer.path + "/bundle"]).status == 0)
        let audit = try PipeBinary.run(["audit", "--bundle", "bundle", "--all"], in: reviewer.path, environment: ["PIPE_CACHE": reviewer.path + "/cache"])
        #expect(audit.stdout.contains("provenance: ok"), "\(audit.stdout)\(audit.stderr)")
        #expect(audit.stdout.contains("data: reproduced bit for bit"), "\(audit.stdout)")
        // `stats` reads data's output (reproduced here) and the carried deps.
        #expect(audit.stdout.contains("stats: reproduced bit for bit"), "\(audit.stdout)\(audit.stderr)")
        #expect(audit.stdout.contains("noisy: DIFFERS in 1 of 1 files") && audit.stdout.contains("now.txt"), "\(audit.stdout)")
        #expect(audit.stdout.contains("2 of 3 stages reproduced bit for bit") && audit.status == 1, "\(audit.stdout)")
        #expect(!audit.stdout.contains("NOT RE-EXECUTED"), "\(audit.stdout)")
        // Nothing written beside the bundle but the cache it was told to use.
        let entries = try FileManager.default.contentsOfDirectory(atPath: reviewer.path).sorted()
        #expect(entries == ["bundle", "cache"], "\(entries)")
    }

    @Test func aStageWhoseInputIsNeitherCachedNorReproducedSaysWhatToDo() throws {
        let author = try Self.authorsRun()
        #expect(try author.pipe("audit", "--export", "latest", "bundle").status == 0)
        let reviewer = try TemporaryDirectory("reviewer")
        let audit = try PipeBinary.run(["audit", "--bundle", author.path + "/bundle", "--stage", "stats"], in: reviewer.path,
                                       environment: ["PIPE_CACHE": reviewer.path + "/cache"])
        #expect(audit.status == 1, "\(audit.stdout)\(audit.stderr)")
        #expect(audit.stdout.contains("stats: NOT RE-EXECUTED: needs the output of `data`") && audit.stdout.contains("--stage data --stage stats"),
                "\(audit.stdout)")
        #expect(!audit.stderr.contains("re-executing stats"), "nothing said to run that did not: \(audit.stderr)")
    }

    @Test func aDependencyEditedSinceTheRunIsNotCarried() throws {
        let author = try Self.authorsRun()
        try author.directory.write("shared/scale.txt", "3\n")
        let export = try author.pipe("audit", "--export", "latest", "bundle")
        #expect(export.status == 2 && export.stderr.contains("dependency `../shared/scale.txt`") && export.stderr.contains("changed since the run"),
                "\(export.stdout)\(export.stderr)")
        #expect(!FileManager.default.fileExists(atPath: author.path + "/bundle"), "no bundle, not even a partial one")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: author.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}
