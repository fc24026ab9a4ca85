import Foundation
import PipeTestSupport
import Testing

/// `kind: smooth` and certified evaluation through a recipe and the built binary.
struct SmoothingCommandTests {
    static let recipe = SFTCommandTests.recipe + """

          smooth:
            kind: smooth
            inputs: {dataset: split, policy: warmup}
            with:
              sigmas: [0.5, 0.12]
              criterion: mean_radius
              n0: 4
              n: 12
              alpha: 0.05
              radii: [0, 0.1]
              max_new_tokens: 6
          eval:
            kind: evaluate
            inputs: {dataset: split, policy: warmup, smoothing: smooth}
            with:
              max_new_tokens: 6
              certify: {limit: 5, radii: [0, 0.05, 0.1], predict_n: 10}
          eval-sigma:
            kind: evaluate
            inputs: {dataset: split, policy: warmup}
            with:
              max_new_tokens: 6
              certify: {sigma: 0.25, n0: 3, n: 9, alpha: 0.1, limit: 4}
          report:
            kind: report
            inputs: {warmup: warmup, smooth: smooth, eval: eval, eval_sigma: eval-sigma}
            with: {title: Smoothing check}
        """

    @Test func calibratesThenCertifiesTheTestSplit() throws {
        let project = try CLIProject()
        try project.directory.write("smooth.yaml", Self.recipe)
        let run = try project.pipe("run", "smooth.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "smooth", "--out", "smooth")
        #expect(try FileManager.default.contentsOfDirectory(atPath: project.path + "/smooth").sorted()
                == ["certificates.csv", "model.safetensors", "smoothing.json", "timing.csv"])
        let choice = try RobustnessCommandTests.json(project.path + "/smooth/smoothing.json")
        let candidates = try #require(choice["candidates"] as? [[String: Any]])
        let scores = try #require(choice["scores"] as? [Double])
        #expect(candidates.map { $0["sigma"] as? Double } == [0.5, 0.12])
        #expect(scores == candidates.map { $0["mean_radius"] as? Double ?? -1 })
        // The best mean radius wins (a tie goes to the smaller sigma).
        let best = scores[0] > scores[1] ? 0.5 : 0.12
        #expect(choice["sigma"] as? Double == best && choice["criterion"] as? String == "mean_radius")
        #expect(choice["n0"] as? Int == 4 && choice["n"] as? Int == 12 && choice["split"] as? String == "val")
        let rows = try String(contentsOfFile: project.path + "/smooth/certificates.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "sigma,question_id,modality,question_type,answer,predicted,radius,p_lower,count,correct")
        #expect(rows.count == 1 + 2 * (choice["records"] as? Int ?? -1))

        try project.pipe("get", "latest", "eval", "--out", "eval")
        let metrics = try RobustnessCommandTests.json(project.path + "/eval/metrics.json")
        let smoothing = try #require(metrics["smoothing"] as? [String: Any])
        #expect(smoothing["sigma"] as? Double == best && smoothing["n"] as? Int == 12 && smoothing["n0"] as? Int == 4
                && smoothing["alpha"] as? Double == 0.05 && smoothing["predict_n"] as? Int == 10)
        let certified = try #require(smoothing["certified"] as? [String: Any])
        let accuracy = try #require(certified["certified_accuracy"] as? [String: Double])
        #expect(Set(accuracy.keys) == ["0", "0.05", "0.1"] && certified["count"] as? Int == 5)
        // n = 12 at alpha = 0.05: pA <= 0.05^(1/12) = 0.7790, so no radius above 0.7690 sigma is certifiable.
        let reach = try #require(certified["largest_certifiable_radius"] as? Double)
        #expect(abs(reach - best * 0.7690) < 0.001, "\(reach)")
        #expect(candidates.allSatisfy { ($0["largest_certifiable_radius"] as? Double ?? 0) > 0 }, "\(candidates)")
        // The certified accuracy is the share of certificates that are correct with that radius.
        let certificates = try String(contentsOfFile: project.path + "/eval/certificates.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").map(String.init) }
        #expect(certificates.count == 5)
        for (key, value) in accuracy {
            let r = Double(key) ?? -1
            let count = certificates.filter { $0[8] == "1" && (Double($0[5]) ?? -1) >= r }.count
            #expect(abs(value - Double(count) / 5) < 1e-12, "radius \(key)")
        }
        #expect((0...1).contains(smoothing["smoothed_accuracy"] as? Double ?? -1))
        let report = try String(contentsOfFile: project.path + "/eval/report.md", encoding: .utf8)
        #expect(report.contains("Randomized smoothing, sigma") && report.contains("| certified accuracy |"))

        // Without a smoothing input, `certify.sigma` and its own settings.
        try project.pipe("get", "latest", "eval-sigma", "--out", "eval-sigma")
        let direct = try #require(try RobustnessCommandTests.json(project.path + "/eval-sigma/metrics.json")["smoothing"] as? [String: Any])
        #expect(direct["sigma"] as? Double == 0.25 && direct["n"] as? Int == 9 && direct["predict_n"] as? Int == 9)
        // Every output is deterministic: a second run is all cached.
        let again = try project.pipe("run", "smooth.yaml")
        #expect(again.status == 0 && again.stdout.contains("0 ran"), "\(again.stdout)")
    }

    @Test func theReportStageAndCommandRenderTheRun() throws {
        let project = try CLIProject()
        try project.directory.write("smooth.yaml", Self.recipe)
        let run = try project.pipe("run", "smooth.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // The run ends with the report's side-by-side table.
        #expect(run.stdout.contains("report: results (test split)\n| model | clean | format | smoothed (sigma) |"), "\(run.stdout)")
        #expect(run.stdout.contains("| eval | ") && run.stdout.contains("| eval_sigma | "))
        try project.pipe("get", "latest", "report", "--out", "report")
        #expect(try FileManager.default.contentsOfDirectory(atPath: project.path + "/report").sorted() == ["report.html", "report.md", "summary.md"])
        let html = try String(contentsOfFile: project.path + "/report/report.html", encoding: .utf8)
        #expect(html.contains("<h1>Smoothing check</h1>") && html.contains("data-title=\"SFT loss per step\"")
                && html.contains("data-title=\"Certified accuracy (randomized smoothing)\""))
        #expect(!html.contains("<script") && !html.contains("src=\"") && !html.contains("href="), "self-contained")
        // Every chart has data points, and the certified-accuracy curve of `eval` carries the run's values.
        let charts = html.components(separatedBy: "<svg").dropFirst()
        #expect(charts.count >= 6 && charts.allSatisfy { $0.contains("class=\"point\"") || $0.contains("class=\"bar\"") || $0.contains("class=\"cell\"") })
        try project.pipe("get", "latest", "eval", "--out", "eval")
        let smoothing = try #require(try RobustnessCommandTests.json(project.path + "/eval/metrics.json")["smoothing"] as? [String: Any])
        let certified = try #require((smoothing["certified"] as? [String: Any])?["certified_accuracy"] as? [String: Double])
        let curve = try #require(charts.first { $0.contains("data-title=\"Certified accuracy (randomized smoothing)\"") })
        let series = try #require(curve.components(separatedBy: "data-series=\"eval (sigma ").dropFirst().first?.components(separatedBy: "</g>").first)
        let values = series.components(separatedBy: "data-y=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        #expect(values == ["0", "0.05", "0.1"].compactMap { certified[$0] }.map { Double(String(format: "%.4g", $0))! }, "\(values) \(certified)")

        // `pipe report RUN` names each stage by its stage name and refuses to overwrite.
        let report = try project.pipe("report", "latest", "--out", "out")
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("| eval | ") && report.stdout.contains("wrote "))
        let markdown = try String(contentsOfFile: project.path + "/out/report.md", encoding: .utf8)
        #expect(markdown.contains("# warmup: run 1") && markdown.contains("warmup") && markdown.contains("## Smoothing calibration"))
        let again = try project.pipe("report", "latest", "--out", "out")
        #expect(again.status == 2 && again.stderr.contains("exists; choose another --out"))
        let missing = try project.pipe("report", "7")
        #expect(missing.status == 2 && missing.stderr.contains("no run `7`"))
        #expect(!FileManager.default.fileExists(atPath: project.path + "/reports"))
    }

    @Test func aSmoothingInputWithoutAChoiceFailsTheStage() throws {
        let project = try CLIProject()
        try project.directory.write("smooth.yaml", Self.recipe)
        let run = try project.pipe("run", "smooth.yaml", "--set", "stages.eval.inputs={dataset: split, policy: warmup, smoothing: warmup}")
        #expect(run.status == 1)
        #expect(run.stderr.contains("has no readable smoothing.json; give a smooth stage as the `smoothing` input"), "\(run.stderr)")
    }

    @Test(arguments: [
        ("stages.smooth.inputs={dataset: split}", "a smooth stage needs `inputs: {dataset: STAGE, policy: STAGE}`"),
        ("stages.smooth.with.criterion=best", "`best` is not one of certified_accuracy_at, mean_radius"),
        ("stages.smooth.with.criterion=certified_accuracy_at", "`certified_accuracy_at` needs a value"),
        ("stages.smooth.with.sigmas=[0.25, -1]", "stages.smooth.with.sigmas.1: expected a number in 0.0001...100.0"),
        ("stages.smooth.with.alpha=0.9", "stages.smooth.with.alpha: expected a number in 1e-12...0.5"),
        ("stages.smooth.with.finetune.epoch=2", "unknown option `epoch`"),
        ("stages.smooth.with.criterion={certified_accuracy_at: 0.5}",
         "no sigma can certify radius 0.5 with n 12 and alpha 0.05 (sigma 0.5 reaches at most 0.385); raise n to at least 18, add a sigma of at least 0.650"),
        ("stages.report.inputs={}", "a report stage needs inputs to show"),
        ("stages.eval.with.certify.n=0", "stages.eval.with.certify.n: expected an integer in 1...100000000"),
    ])
    func badSettingsAreRefused(setting: String, message: String) throws {
        try CLIProject().expectRefused(recipe: Self.recipe, file: "smooth.yaml", setting: setting, message: message)
    }
}
