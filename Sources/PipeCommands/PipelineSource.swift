import Foundation
import PipeEngine
import PipeRecipe

/// What a pipeline was built from, as command-line arguments, so that a cluster node can build
/// the same pipeline (`pipe exec-stage`) and execute one job of it.
enum PipelineSource {
    /// `pipe run RECIPE --set ...`
    case recipe(file: String, sets: [String])
    /// `pipe ablate EXPERIMENT --axis ... --seeds ... --set ...`
    case experiment(file: String, axes: [String], seeds: String?, sets: [String])

    /// The `exec-stage` options that rebuild it (files made absolute).
    var arguments: [String] {
        let current = FileManager.default.currentDirectoryPath
        switch self {
        case .recipe(let file, let sets):
            return ["--recipe", Project.absolute(file, from: current)] + sets.flatMap { ["--set", $0] }
        case .experiment(let file, let axes, let seeds, let sets):
            return ["--experiment", Project.absolute(file, from: current)] + axes.flatMap { ["--axis", $0] }
                + (seeds.map { ["--seeds", $0] } ?? []) + sets.flatMap { ["--set", $0] }
        }
    }

    /// Builds the pipeline as `pipe run` or `pipe ablate` does.
    func pipeline() throws -> Pipeline {
        switch self {
        case .recipe(let file, let sets):
            return try LoadedRecipe(file: file, sets: sets).pipeline
        case .experiment(let file, let axes, let seeds, let sets):
            return try Ablation.load(experimentFile: file, axes: axes, seeds: seeds, sets: sets).pipeline
        }
    }
}

/// How an ablation run's grid was built, as the ledger keeps it (`run.source`), so that
/// `pipe audit` rebuilds the same union graph: the experiment file and its text's digest, and the
/// command line's `--axis`, `--seeds` and `--set`.
struct ExperimentSource: Codable, Equatable {
    var experiment: String
    var digest: String
    var axes: [String]
    var seeds: String?
    var sets: [String]

    /// The JSON the ledger stores.
    var json: String { Provenance.json(self) }

    /// The source of a recorded run, or nil for a `pipe run`.
    static func decode(_ json: String) -> ExperimentSource? {
        guard !json.isEmpty else { return nil }
        return try? JSONDecoder().decode(ExperimentSource.self, from: Data(json.utf8))
    }
}
