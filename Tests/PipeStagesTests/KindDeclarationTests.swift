import Foundation
import PipeEngine
import PipeModel
import PipeRecipe
@testable import PipeStages
import PipeTraining
import Testing

/// Each built-in kind declares its options once: every read goes through a declared key, the
/// trainer settings come from the declared defaults, and a bad read throws instead of falling back.
struct KindDeclarationTests {
    /// A stage of `kind` with `with` (YAML) and the inputs its actions need.
    static func resolved(_ kind: any StageKind, with: String = "{}") throws -> ResolvedStage {
        let inputs = kind.name == "unpack" ? "{archive: up}" : "{dataset: up, policy: up}"
        let text = """
            pipe: 1
            name: t
            stages:
              up: {kind: command, command: "true"}
              s:
                kind: \(kind.name)
                inputs: \(inputs)
                with: \(with)
            """
        let recipe = try Recipe.parse(text, file: "/tmp/r.yaml", kinds: KindRegistry.builtIn.names)
        let stage = try #require(recipe.stages.first { $0.name == "s" })
        return ResolvedStage(stage: stage, recipeName: "t", recipeDirectory: "/tmp", seed: 3, options: try kind.options(of: stage))
    }

    static let declared = KindRegistry.builtIn.all.filter { $0.schema != nil }.map(\.name)

    @Test(arguments: declared)
    func everyReadOfTheDefaultsIsDeclared(_ name: String) throws {
        let kind = try #require(KindRegistry.builtIn.kind(name))
        // An undeclared or mistyped read would throw an internal error here.
        _ = try kind.action(for: try Self.resolved(kind))
    }

    @Test(arguments: [
        ("sft", "{adversarial: {norm: l2, fraction: 0.5}, model: {dim: 64}}"),
        ("at-grpo", "{attack: {norm: l2, eps: 0.5}}"),
        ("evaluate", "{attack: {methods: [fgsm, pgd_l2], eps: [0.1]}, certify: {sigma: 0.25}, cues: {limit: 3}}"),
        ("smooth", "{criterion: mean_radius, finetune: {epochs: 1}}"),
        ("synth", "{noise: 0.1, blur: 1, contrast: 0.5, distractor_similarity: 0.2, lesion_subtlety: 0.3, format: tar.gz}"),
        ("unpack", "{on_bad_image: skip, limits: {max_entries: 10}}"),
    ])
    func everyReadOfWrittenOptionsIsDeclared(_ name: String, _ with: String) throws {
        let kind = try #require(KindRegistry.builtIn.kind(name))
        _ = try kind.action(for: try Self.resolved(kind, with: with))
    }

    @Test(arguments: declared)
    func optionNamesAreUniqueAndHelped(_ name: String) throws {
        func check(_ schema: OptionSchema, _ path: String) {
            let names = schema.options.map(\.name)
            #expect(Set(names).count == names.count, "\(path): \(names)")
            for option in schema.options {
                #expect(!option.help.isEmpty, "\(path).\(option.name) has no help")
                if case .group(let inner) = option.type { check(inner, path + "." + option.name) }
            }
        }
        check(try #require(KindRegistry.builtIn.kind(name)?.schema), name)
    }

    /// The trainers get exactly the declared defaults (Float conversions as before).
    @Test func defaultsReachTheTrainerSettings() throws {
        let sft = try SFTKind.trainerConfig(try Self.resolved(SFTKind()).values)
        #expect(sft.mode == .cot && sft.epochs == 2 && sft.batchSize == 32 && sft.microBatch == 8 && sft.warmupSteps == 20)
        #expect(sft.learningRate == Float(1e-3) && sft.minLearningRateRatio == Float(0.1) && sft.weightDecay == Float(0.01) && sft.gradClip == 1)
        #expect(sft.shuffleOptions && sft.trainFraction == 1 && sft.evalLimit == 0 && sft.evalMaxNewTokens == 96)
        #expect(sft.model == ModelConfig(), "the model group's defaults are the model's")
        #expect(sft.adversary?.attack == AttackSettings.defaults(.pgdLinf) && sft.adversary?.fraction == 1)

        let grpo = try GRPOKind().trainerConfig(try Self.resolved(GRPOKind()).values)
        #expect(grpo.steps == 100 && grpo.promptsPerStep == 8 && grpo.groupSize == 4 && grpo.maxNewTokens == 96 && grpo.iterations == 1)
        #expect(grpo.learningRate == Float(1e-4) && grpo.adamEpsilon == Float(1e-8) && grpo.temperature == 1 && grpo.gradClip == 1)
        #expect(grpo.objective.beta == 0.04 && grpo.objective.epsilonLow == 0.2 && grpo.objective.epsilonHigh == 0.2)
        #expect(grpo.objective.lossType == .grpo && grpo.objective.scaleRewards == .group && grpo.objective.topEntropyQuantile == 1)
        #expect(grpo.adversary == nil)

        let atGRPO = try GRPOKind(adversarial: true).trainerConfig(try Self.resolved(GRPOKind(adversarial: true)).values)
        #expect(atGRPO.adversary == AdversarialTraining(attack: AttackSettings.defaults(.pgdLinf), fraction: 0.5, epsWarmupSteps: 0, nllWeight: 0))
    }

    /// The config structs' own defaults (for library callers) agree with the declarations, so the
    /// two cannot drift apart unnoticed.
    @Test func trainerStructDefaultsAgreeWithTheDeclarations() throws {
        let declared = try SFTKind.trainerConfig(try Self.resolved(SFTKind()).values), plain = SFTConfig()
        #expect(declared.epochs == plain.epochs && declared.batchSize == plain.batchSize && declared.microBatch == plain.microBatch)
        #expect(declared.learningRate == plain.learningRate && declared.warmupSteps == plain.warmupSteps)
        #expect(declared.minLearningRateRatio == plain.minLearningRateRatio && declared.weightDecay == plain.weightDecay)
        #expect(declared.gradClip == plain.gradClip && declared.shuffleOptions == plain.shuffleOptions && declared.trainFraction == plain.trainFraction)
        #expect(declared.evalLimit == plain.evalLimit && declared.evalMaxNewTokens == plain.evalMaxNewTokens && declared.model == plain.model)
        let grpo = try GRPOKind().trainerConfig(try Self.resolved(GRPOKind()).values), plainGRPO = GRPOConfig()
        #expect(grpo.steps == plainGRPO.steps && grpo.promptsPerStep == plainGRPO.promptsPerStep && grpo.groupSize == plainGRPO.groupSize)
        #expect(grpo.learningRate == plainGRPO.learningRate && grpo.adamEpsilon == plainGRPO.adamEpsilon && grpo.temperature == plainGRPO.temperature)
        #expect(grpo.maxNewTokens == plainGRPO.maxNewTokens && grpo.microBatch == plainGRPO.microBatch && grpo.warmupSteps == plainGRPO.warmupSteps)
    }

    @Test func certificationWithoutASmoothingInputTakesTheSmoothKindsDefaults() throws {
        #expect(SmoothKind.n0.defaultValue == 100 && SmoothKind.n.defaultValue == 100_000 && SmoothKind.alpha.defaultValue == 0.001)
        let request = try EvaluateKind.Certify.request(try Self.resolved(EvaluateKind(), with: "{certify: {sigma: 0.5}}").values[EvaluateKind.Certify.group])
        let settings = try #require(request.settings(nil))
        #expect(settings.n0 == 100 && settings.n == 100_000 && settings.alpha == 0.001 && settings.predictN == 100_000)
    }

    @Test(arguments: [
        ("missing", Value.map([]), "not declared"),
        ("mistyped", Value.map([("epochs", .string("two"))]), "resolved as `\"two\"`"),
    ])
    func aBadReadThrowsInsteadOfFallingBack(_ label: String, _ value: Value, _ expected: String) throws {
        let values = OptionValues(value, location: SourceLocation(file: "r.yaml", line: 4, column: 5), path: "stages.s.with")
        let error = try #require(throws: RecipeError.self) { _ = try values[SFTKind.epochs] }
        #expect(error.path == "stages.s.with.epochs", "\(label)")
        #expect(error.message.contains("internal error: option `epochs` is read but \(expected)"), "\(label): \(error.message)")
    }
}
