import Foundation
import PipeTestSupport
import Testing

/// `pipe compare` and `pipe report` over runs of `command` stages: a stage's metrics.json is
/// reported whatever its kind, and runs without any say so plainly.
struct MetricsReportTests {
    @Test func runsWithoutMetricsSaySoForCompareAndReport() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        #expect(try project.pipe("run", "chain.yaml", "--set", "params.greeting=hi").status == 0)
        for arguments in [["compare", "1", "2"], ["compare", "1", "2", "--changed"]] {
            let compare = try PipeBinary.run(arguments, in: project.path)
            #expect(compare.status == 0 && compare.stdout == "no metrics in these runs' stages (no stage wrote metrics.json)\n",
                    "\(arguments): \(compare.stdout)")
        }
        let report = try project.pipe("report", "1")
        #expect(report.status == 2 && report.stderr.contains("run 1 has no stage with metrics.json, curves.csv or smoothing.json to report"),
                "\(report.stderr)")
        #expect(report.stderr.contains("$PIPE_OUT/metrics.json"))
        #expect(!FileManager.default.fileExists(atPath: project.path + "/reports"), "nothing is written")
    }

    @Test func theDemoRecipesRunsAreComparedAndReportedByTheirStatsMetrics() throws {
        let project = try CLIProject()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        #expect(BackgroundProcess.run("/bin/cp", ["-R", repository + "/recipes", project.path + "/recipes"]).status == 0)
        #expect(try project.pipe("run", "recipes/demo.yaml").status == 0)
        #expect(try project.pipe("run", "recipes/demo.yaml", "--set", "seed=8").status == 0)
        let compare = try project.pipe("compare", "1", "2", "--changed")
        #expect(compare.status == 0 && compare.stdout.contains("stats") && !compare.stdout.contains("no metric"), "\(compare.stdout)\(compare.stderr)")
        let report = try project.pipe("report", "latest", "--out", "out/report")
        #expect(report.status == 0 && report.stdout.hasPrefix("stats\n| metric | value |"), "\(report.stdout)\(report.stderr)")
    }

    @Test func compareWithAFilterThatMatchesNothingNamesIt() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "ablate/grid.yaml").status == 0)
        let compare = try project.pipe("compare", "1", "1", "--metric", "nope")
        #expect(compare.status == 0 && compare.stdout == "no metric matches `nope`\n", "\(compare.stdout)")
        #expect(try project.pipe("compare", "1", "1", "--changed").stdout == "no metric differs\n")
    }

    @Test func aCommandStagesMetricsAreReportedAndPrinted() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "ablate/grid.yaml").status == 0)
        let report = try project.pipe("report", "latest", "--out", "out/report")
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.hasPrefix("eval\n| metric | value |\n| --- | --- |\n| accuracy | 10.9 |\n| by.CT | 0.1 |\n| by.MRI | 0 |\n| certified.0.25 | 0.1 |\n"),
                "\(report.stdout)")
        let markdown = try String(contentsOfFile: project.path + "/out/report/report.md", encoding: .utf8)
        #expect(markdown.contains("## Stage metrics\n\n### eval\n\n| metric | value |"), "\(markdown)")
        let html = try String(contentsOfFile: project.path + "/out/report/report.html", encoding: .utf8)
        #expect(html.contains("<h3>eval</h3>") && html.contains("<td>certified.0.25</td><td>0.1</td>"))
    }

    @Test func aMetricsFileThatIsNotJSONIsNamed() throws {
        let project = try CLIProject()
        try project.directory.write("bad.yaml", """
            pipe: 1
            name: bad
            stages:
              score:
                kind: command
                command: echo 'accuracy=1' > "$PIPE_OUT/metrics.json"
            """)
        #expect(try project.pipe("run", "bad.yaml").status == 0)
        let report = try project.pipe("report", "latest")
        #expect(report.status == 2 && report.stderr.contains("cannot report stage `score`: score/metrics.json is not JSON"), "\(report.stderr)")
    }
}
