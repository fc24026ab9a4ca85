import Foundation
import PipeTestSupport
import Testing

/// `pipe ablate` on a grid of `command` stages (`Recipes/ablate`): the union graph runs each shared
/// stage once, the comparison matches a golden file, a failed variant keeps the others.
struct AblateCommandTests {
    /// The stages a run reported as ran (summary rows `NAME KIND ran ...`).
    static func ran(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 3 && fields[2] == "ran" ? String(fields[0]) : nil
        }.sorted()
    }

    @Test func sharedStagesRunOnceAndTheComparisonMatchesTheGoldenFile() throws {
        let project = try CLIProject()
        let dry = try project.pipe("ablate", "ablate/grid-experiment.yaml", "--dry-run")
        #expect(dry.status == 0)
        #expect(dry.stdout.hasPrefix("grid-experiment: 8 variants, 18 distinct stages (24 without sharing)\n  variant 1: params.scale=1, params.noise=0, stages.eval.env.TAG=a, seed 1\n"),
                "\(dry.stdout)")
        let run = try project.pipe("ablate", "ablate/grid-experiment.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // `data` pins its seed, so it runs once per scale; `train` and `eval` once per variant.
        #expect(Self.ran(run.stdout) == ["data#1", "data#2"] + (1...8).map { "eval#\($0)" } + (1...8).map { "train#\($0)" })
        #expect(run.stdout.contains("grid: 18 stage executions ran, 0 cached, for 24 stage runs of 8 variants"))
        let golden = try String(contentsOfFile: project.path + "/ablate/expected-comparison.md", encoding: .utf8)
        #expect(try String(contentsOfFile: project.path + "/ablations/grid-experiment/comparison.md", encoding: .utf8) == golden)
        #expect(run.stdout.contains(golden))
        let csv = try String(contentsOfFile: project.path + "/ablations/grid-experiment/comparison.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "variant,eval.accuracy mean,eval.accuracy std,eval.accuracy n,eval.certified@0.25 mean,eval.certified@0.25 std,eval.certified@0.25 n,seeds,failure")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: project.path + "/ablations/grid-experiment/comparison.json"))) as? [String: Any])
        #expect((json["rows"] as? [Any])?.count == 4)
        // The HTML report: a bar chart per metric whose bars are the cells' means.
        let html = try String(contentsOfFile: project.path + "/ablations/grid-experiment/comparison.html", encoding: .utf8)
        #expect(html.components(separatedBy: "data-chart=\"bar\"").count == 3 && html.contains("data-y=\"21.5\""), "\(html.prefix(300))")
        // A second run needs nothing; one more scale runs only that scale's stages.
        let again = try project.pipe("ablate", "ablate/grid-experiment.yaml")
        #expect(again.status == 0 && Self.ran(again.stdout).isEmpty && again.stdout.contains("0 stage executions ran, 18 cached"))
        let wider = try project.pipe("ablate", "ablate/grid-experiment.yaml", "--axis", "params.scale=1,2,3")
        #expect(wider.status == 0 && Self.ran(wider.stdout).count == 9, "\(wider.stdout)")
    }

    @Test func aStarMetricIsAColumnPerKeyAndAHeatmap() throws {
        let project = try CLIProject()
        let run = try project.pipe("ablate", "ablate/matrix-experiment.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("| variant | eval.by@CT | eval.by@MRI | eval.accuracy | seeds |\n"), "\(run.stdout)")
        #expect(run.stdout.contains("| params.scale=2 | 0.2000 * | 0.1000 * | 21.9000 * | 1 |"), "\(run.stdout)")
        let html = try String(contentsOfFile: project.path + "/ablations/matrix-experiment/comparison.html", encoding: .utf8)
        // One heatmap (rows: the scale values, columns: the keys) and one bar chart, for eval.accuracy.
        #expect(html.components(separatedBy: "data-chart=\"heatmap\"").count == 2 && html.components(separatedBy: "data-chart=\"bar\"").count == 2)
        #expect(html.contains("data-row=\"2\" data-column=\"CT\" data-y=\"0.2\"") && html.contains("data-row=\"1\" data-column=\"MRI\" data-y=\"0.1\""))
    }

    @Test func theReportOfAnExperimentNeedsItsStagesCached() throws {
        let project = try CLIProject()
        let early = try project.pipe("report", "ablate/grid-experiment.yaml")
        #expect(early.status == 2 && early.stderr.contains("18 of the grid's 18 stages are not in the cache"), "\(early.stderr)")
        #expect(try project.pipe("ablate", "ablate/grid-experiment.yaml").status == 0)
        let report = try project.pipe("report", "ablate/grid-experiment.yaml")
        #expect(report.status == 0, "\(report.stderr)")
        let golden = try String(contentsOfFile: project.path + "/ablate/expected-comparison.md", encoding: .utf8)
        #expect(report.stdout.hasPrefix(golden) && report.stdout.contains("reports/grid-experiment/report.html"))
        let markdown = try String(contentsOfFile: project.path + "/reports/grid-experiment/report.md", encoding: .utf8)
        #expect(markdown.contains("- eval.accuracy (mean over seeds)"))
    }

    @Test func compareSetsRunsSideBySide() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "ablate/grid.yaml").status == 0)
        #expect(try project.pipe("run", "ablate/grid.yaml", "--set", "params.scale=2", "--set", "params.noise=1").status == 0)
        let compare = try project.pipe("compare", "1", "2")
        #expect(compare.status == 0)
        // scale 1 -> 2 and noise 0 -> 1: accuracy rises by 11 (the decimal is the seed's, unchanged).
        #expect(compare.stdout == "| metric | run 1 | run 2 | run 2 - run 1 |\n| --- | --- | --- | --- |\n"
                + "| eval.accuracy | 10.9 | 21.9 | +11 |\n| eval.by.CT | 0.1 | 0.2 | +0.1 |\n| eval.by.MRI | 0 | 0.1 | +0.1 |\n"
                + "| eval.certified.0.25 | 0.1 | 0.2 | +0.1 |\n", "\(compare.stdout)")
        let csv = try project.pipe("compare", "1", "latest", "--metric", "certified", "--format", "csv")
        #expect(csv.stdout == "metric,run 1,run 2,run 2 - run 1\neval.certified.0.25,0.1,0.2,+0.1\n", "\(csv.stdout)")
        #expect(try project.pipe("compare", "1", "1", "--changed").stdout == "no metric differs\n")
        let missing = try project.pipe("compare", "1", "5")
        #expect(missing.status == 2 && missing.stderr.contains("no run `5`"))
        #expect(try project.pipe("compare", "1").status == 2)
    }

    @Test func aFailedVariantKeepsTheOthers() throws {
        let project = try CLIProject()
        let run = try project.pipe("ablate", "ablate/grid-experiment.yaml", "--axis", "params.noise=0,9", "--seeds", "3")
        #expect(run.status == 1)
        let table = try String(contentsOfFile: project.path + "/ablations/grid-experiment/comparison.md", encoding: .utf8)
        #expect(table.contains("| params.scale=2, params.noise=0, stages.eval.env.TAG=a | 20.7000 * | 0.2000 * | 1 |  |"), "\(table)")
        #expect(table.contains("| params.scale=1, params.noise=9, stages.eval.env.TAG=b | failed | failed | 1 | seed 3: stage `eval` failed: command exited with status 3 (noise 9 is refused) |"))
    }

    @Test(arguments: [
        (["--axis", "params.nope=1,2"], "error: params.nope: variant 1 (params.scale=1, params.nope=1, params.noise=0, stages.eval.env.TAG=a, seed 1): no key under `params` named `nope`"),
        (["--axis", "scale"], "--axis scale: expected path=v1,v2"),
        (["--seeds", "1,x"], "--seeds 1,x: `x` is not an integer"),
        (["--set", "params.nope=1"], "no key under `params` named `nope`"),
    ])
    func badArgumentsAreRefused(arguments: [String], message: String) throws {
        let project = try CLIProject()
        let run = try PipeBinary.run(["ablate", "ablate/grid-experiment.yaml"] + arguments, in: project.path)
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/ablations"))
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"))
    }

    @Test(arguments: [
        ("recipe: grid.yaml\ngrid: {params.scale: 1}\n", "ablate/x.yaml:2:22: error: grid.params.scale: expected a non-empty list of values"),
        ("recipe: grid.yaml\ncompare: [evl.accuracy]\n", "compare `evl.accuracy`: no stage `evl`"),
        ("recipe: grid.yaml\nzip:\n  - {params.scale: [1, 2], params.noise: [1]}\n", "ablate/x.yaml:3:28: error: zip.0.params.noise: 1 values, but `params.scale` in the same group has 2"),
        ("recipe: grid.yaml\ngird: {}\n", "ablate/x.yaml:2:1: error: gird: unknown experiment field `gird`"),
        ("recipe: nothere.yaml\n", "cannot read recipe"),
    ])
    func badExperimentsAreLocated(text: String, message: String) throws {
        let project = try CLIProject()
        try project.directory.write("ablate/x.yaml", text)
        let run = try project.pipe("ablate", "ablate/x.yaml")
        #expect(run.status == 2)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"))
    }
}
