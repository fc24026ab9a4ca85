import Foundation
import PipeTestSupport
import Testing

/// The recipes and experiments the repository ships load and validate (run nothing).
struct ShippedRecipesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func files(in folder: String) throws -> [String] {
        let directory = root.appendingPathComponent(folder).path
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { directory + "/" + $0 }
    }

    @Test func everyRecipeValidates() throws {
        let recipes = try Self.files(in: "recipes")
        #expect(recipes.map { URL(fileURLWithPath: $0).lastPathComponent }.starts(with: ["at-grpo.yaml", "data.yaml"]))
        let scratch = try TemporaryDirectory("shipped")
        for recipe in recipes {
            let result = try PipeBinary.run(["validate", recipe], in: scratch.path)
            #expect(result.status == 0 && result.stdout.contains(": ok: recipe"), "\(recipe): \(result.stdout)\(result.stderr)")
        }
    }

    @Test func everyExperimentExpandsToItsVariants() throws {
        let experiments = try Self.files(in: "experiments")
        #expect(!experiments.isEmpty)
        let scratch = try TemporaryDirectory("shipped")
        for experiment in experiments {
            let result = try PipeBinary.run(["ablate", experiment, "--dry-run"], in: scratch.path)
            #expect(result.status == 0 && result.stdout.contains("variant 1:"), "\(experiment): \(result.stdout)\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/artifacts/objects"), "a dry run computes nothing")
    }
}
