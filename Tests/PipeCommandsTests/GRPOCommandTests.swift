import Foundation
import PipeTestSupport
import Testing

/// `kind: grpo` through a recipe and the built binary.
struct GRPOCommandTests {
    static let recipe = SFTCommandTests.recipe + """

          train:
            kind: grpo
            inputs: {dataset: split, policy: warmup}
            with:
              reasoning: instruct
              steps: 2
              prompts_per_step: 2
              group_size: 2
              max_new_tokens: 6
              eval: {max_new_tokens: 6}
        """

    @Test func trainsFromTheWarmUpAndWritesItsArtifacts() throws {
        let project = try CLIProject()
        try project.directory.write("grpo.yaml", Self.recipe)
        let run = try project.pipe("run", "grpo.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "train", "--out", "out")
        let files = try FileManager.default.contentsOfDirectory(atPath: project.path + "/out").sorted()
        #expect(files == ["curves.csv", "metrics.json", "model.safetensors", "predictions.jsonl", "timing.csv"])
        let curve = try String(contentsOfFile: project.path + "/out/curves.csv", encoding: .utf8).split(separator: "\n")
        #expect(curve.first.map(String.init) == "step,reward_mean,reward_std,format_rate,accuracy,kl,clip_fraction,completion_length,grad_norm,lr,"
                + "entropy,frac_reward_zero_std,conclusion_accuracy,faithful,right_against_conclusion")
        #expect(curve.count == 3)
        #expect(curve[1].split(separator: ",")[5] == "0", "KL is 0 at the first step")
        let timing = try String(contentsOfFile: project.path + "/out/timing.csv", encoding: .utf8).split(separator: "\n")
        #expect(timing.first == "step,seconds,attack_s,rollout_s,reward_s,logprob_s,update_s" && timing.count == 3)
    }

    @Test(arguments: [
        ("stages.train.inputs={dataset: split}", "a grpo stage needs `inputs: {dataset: STAGE, policy: STAGE}`"),
        ("stages.train.with.group_size=1", "stages.train.with.group_size: expected an integer in 2...64"),
        ("stages.train.with.loss_type=ppo", "`ppo` is not one of grpo, bnpo, dr_grpo, dapo"),
        ("stages.train.with.top_entropy_quantile=0", "stages.train.with.top_entropy_quantile: expected a number in 0.001...1.0"),
        ("stages.train.with.scale_rewards=batchh", "did you mean `batch`?"),
        ("stages.train.with.adam_epsilon=-0.1", "stages.train.with.adam_epsilon: expected a number in 0.0...1.0"),
    ])
    func badSettingsAreRefused(setting: String, message: String) throws {
        try CLIProject().expectRefused(recipe: Self.recipe, file: "grpo.yaml", setting: setting, message: message)
    }
}
