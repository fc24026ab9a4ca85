import Foundation
import PipeTestSupport
import Testing

/// `kind: at-grpo` and `kind: evaluate` through a recipe and the built binary.
struct RobustnessCommandTests {
    static let recipe = SFTCommandTests.recipe + """

          robust:
            kind: at-grpo
            inputs: {dataset: split, policy: warmup}
            with:
              reasoning: instruct
              steps: 3
              prompts_per_step: 2
              group_size: 2
              max_new_tokens: 6
              attack: {eps: 0.03, alpha: 0.01, steps: 2}
              adversarial_fraction: 0.5
              eps_warmup_steps: 2
              eval: {max_new_tokens: 6, limit: 4}
          eval:
            kind: evaluate
            inputs: {dataset: split, policy: robust}
            with:
              max_new_tokens: 6
              attack: {methods: [fgsm, pgd_linf], eps: [0.01, 0.05], steps: 2}
        """

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func adversarialTrainingThenEvaluationUnderAttack() throws {
        let project = try CLIProject()
        try project.directory.write("robust.yaml", Self.recipe)
        let run = try project.pipe("run", "robust.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "robust", "--out", "robust")
        let curve = try String(contentsOfFile: project.path + "/robust/curves.csv", encoding: .utf8).split(separator: "\n")
        #expect(curve.first?.hasSuffix(",clean_reward,clean_accuracy,adv_reward,adv_accuracy,eps,adv_nll") == true)
        // eps ramps over the first two steps, then stays at its value; adv_nll is empty without `adversarial_nll`.
        #expect(curve.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).suffix(2).joined(separator: ",") }
                == ["0.015,", "0.03,", "0.03,"])

        try project.pipe("get", "latest", "eval", "--out", "eval")
        let files = try FileManager.default.contentsOfDirectory(atPath: project.path + "/eval").sorted()
        #expect(files == ["attacks.csv", "metrics.json", "predictions.jsonl", "report.md"])
        let metrics = try Self.json(project.path + "/eval/metrics.json")
        #expect(metrics["split"] as? String == "test")
        let clean = try #require(metrics["clean"] as? [String: Any])
        let attacks = try #require(metrics["attacks"] as? [[String: Any]])
        #expect(attacks.map { $0["method"] as? String } == ["fgsm", "fgsm", "pgd_linf", "pgd_linf"])
        #expect(attacks.map { $0["eps"] as? Double } == [0.01, 0.05, 0.01, 0.05])
        for attack in attacks {
            let accuracy = try #require(attack["accuracy"] as? Double), drop = try #require(attack["drop"] as? Double)
            #expect(abs((clean["accuracy"] as? Double ?? -1) - accuracy - drop) < 1e-12)
            #expect(attack["count"] as? Int == clean["count"] as? Int)
            // By question type: every attacked type, clean on the same records equal to the clean breakdown here.
            let byType = try #require(attack["byQuestionType"] as? [String: Double])
            let cleanByType = try #require(attack["cleanByQuestionType"] as? [String: Double])
            #expect(Set(byType.keys) == Set(cleanByType.keys) && !byType.isEmpty)
            #expect(cleanByType == clean["byQuestionType"] as? [String: Double])
        }
        // The same accuracies by method and eps, for comparisons such as `eval.pgd_linf@0.05`.
        let robust = try #require(metrics["robust_accuracy"] as? [String: [String: Double]])
        #expect(robust["pgd_linf"]?["0.05"] == attacks[3]["accuracy"] as? Double && robust["fgsm"]?.count == 2)
        let cues = try #require(metrics["cues"] as? [String: [String: Double]])
        #expect(Set(cues.keys) == ["misleading_hint", "shuffled_options"])
        let stepwise = try #require(metrics["stepwise"] as? [String: Any])
        #expect((stepwise["chains"] as? Int ?? 0) > 0 && stepwise["byStep"] is [String: Double])
        let grid = try #require(metrics["grid"] as? [String: [String: Double]])
        #expect(Set(grid.keys) == Set((clean["byModality"] as? [String: Double] ?? [:]).keys))
        let csv = try String(contentsOfFile: project.path + "/eval/attacks.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 6 && csv[1].hasPrefix("none,0,"))
        let report = try String(contentsOfFile: project.path + "/eval/report.md", encoding: .utf8)
        #expect(report.contains("| pgd_linf | 0.05 |") && report.contains("Clean accuracy") && report.contains("| misleading hint |")
                && report.contains("Stepwise consistency") && report.contains("| pgd_linf 0.05 |"))
    }

    @Test(arguments: [
        ("stages.eval.inputs={dataset: split}", "an evaluate stage needs `inputs: {dataset: STAGE, policy: STAGE}`"),
        ("stages.eval.with.attack.methods=[pgd]", "`pgd` is not one of fgsm, pgd_linf, pgd_l2"),
        ("stages.eval.with.attack.eps=[0.1, big]", "stages.eval.with.attack.eps.1: expected a number"),
        ("stages.eval.with.split=testing", "`testing` is not one of train, val, test"),
        ("stages.eval.with.cues.limit=-1", "stages.eval.with.cues.limit: expected an integer in 0...10000000"),
        ("stages.eval.with.cues.count=5", "stages.eval.with.cues.count: unknown option `count`"),
        ("stages.robust.with.attack.norm=l3", "`l3` is not one of linf, l2"),
        ("stages.robust.with.adversarial_fraction=2", "stages.robust.with.adversarial_fraction: expected a number in 0.0...1.0"),
        ("stages.robust.inputs={policy: warmup}", "an at-grpo stage needs `inputs: {dataset: STAGE, policy: STAGE}`"),
    ])
    func badSettingsAreRefused(setting: String, message: String) throws {
        try CLIProject().expectRefused(recipe: Self.recipe, file: "robust.yaml", setting: setting, message: message)
    }
}
