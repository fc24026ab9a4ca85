import Foundation
import PipeEngine
import PipeRecipe
import PipeStages

/// The union graph of an experiment's variants: every variant's recipe, with stages whose key
/// material and inputs are the same in several variants merged into one job, so the grid runs each
/// shared step once.
struct Ablation {
    let experiment: Experiment
    let variants: [Experiment.Variant]
    /// The base recipe (no overrides), for the ledger's run entry.
    let base: LoadedRecipe
    let pipeline: Pipeline
    /// For each variant, stage name -> the union job that runs it.
    let jobOf: [[String: String]]
    /// Stage executions the grid would need without sharing (variants x stages).
    var unsharedCount: Int { jobOf.reduce(0) { $0 + $1.count } }

    /// Loads every variant of `experiment` (with `sets` applied to all of them after the grid's own
    /// overrides); a variant's recipe error names the variant.
    /// `recipeText`: the recipe's text as recorded (for an audit), instead of the file's.
    init(experiment: Experiment, variants: [Experiment.Variant], sets: [Override], registry: KindRegistry = .builtIn,
         recipeText: String? = nil) throws {
        self.experiment = experiment
        self.variants = variants
        base = try Self.load(experiment.recipe, text: recipeText, overrides: experiment.baseOverrides + sets, registry: registry, variant: nil)
        var unionJobs: [Job] = []
        var nameOf: [Digest: String] = [:]              // identity -> union job name
        var identities: [String: [Digest]] = [:]        // stage -> its distinct identities, in order
        var perVariant: [[(stage: String, identity: Digest, job: Job)]] = []
        for (index, variant) in variants.enumerated() {
            let loaded = try Self.load(experiment.recipe, text: recipeText, overrides: experiment.baseOverrides + variant.overrides + sets,
                                       registry: registry, variant: (index, variant))
            var identityOf: [String: Digest] = [:]
            var rows: [(String, Digest, Job)] = []
            for i in loaded.pipeline.order {
                let job = loaded.pipeline.jobs[i]
                // A job's identity: its key material with its inputs' identities in place of their digests.
                let identity = job.keyMaterial(inputs: Dictionary(job.inputs.map { ($0.role, identityOf[$0.job]!) }, uniquingKeysWith: { a, _ in a })).digest
                identityOf[job.name] = identity
                if !(identities[job.name] ?? []).contains(identity) { identities[job.name, default: []].append(identity) }
                rows.append((job.name, identity, job))
            }
            perVariant.append(rows)
        }
        // Names: a stage with one identity in every variant keeps its name; otherwise `stage#k`.
        // (Sorted, so that two stages of one recipe with the same key get the same name every time.)
        for (stage, list) in identities.sorted(by: { $0.key > $1.key }) {
            for (k, identity) in list.enumerated() { nameOf[identity] = list.count == 1 ? stage : "\(stage)#\(k + 1)" }
        }
        var added = Set<Digest>()
        var jobOf: [[String: String]] = []
        for rows in perVariant {
            var names: [String: String] = [:]
            var identityOf: [String: Digest] = [:]
            for (stage, identity, job) in rows {
                identityOf[stage] = identity
                let name = nameOf[identity] ?? stage
                names[stage] = name
                guard added.insert(identity).inserted else { continue }
                var renamed = job
                renamed.name = name
                renamed.inputs = job.inputs.map { Job.Input(role: $0.role, job: nameOf[identityOf[$0.job]!] ?? $0.job) }
                unionJobs.append(renamed)
            }
            jobOf.append(names)
        }
        self.jobOf = jobOf
        pipeline = Pipeline(jobs: unionJobs)
    }

    /// Reads an experiment file, applies `--axis`, `--seeds` and `--set`, and builds its union graph.
    static func load(experimentFile file: String, axes: [String], seeds: String?, sets: [String]) throws -> Ablation {
        let text = try InputFile.text(file, what: "experiment", hint: "experiments live in experiments/, e.g. `pipe ablate experiments/cot-vs-instruct.yaml`")
        return try load(experimentText: text, file: file, axes: axes, seeds: seeds, sets: sets)
    }

    /// An experiment from its text (as recorded, for an audit); `recipeText` replaces its recipe file's.
    static func load(experimentText text: String, file: String, axes: [String], seeds: String?, sets: [String],
                     recipeText: String? = nil) throws -> Ablation {
        var parsed = try Experiment.parse(text, file: file)
        try AxisOptions.apply(axes: axes, seeds: seeds, to: &parsed)
        return try Ablation(experiment: parsed, variants: try parsed.checkedVariants(), sets: try sets.map(Override.init(parsing:)), recipeText: recipeText)
    }

    static func load(_ file: String, text: String?, overrides: [Override], registry: KindRegistry, variant: (Int, Experiment.Variant)?) throws -> LoadedRecipe {
        do {
            if let text { return try LoadedRecipe(file: file, text: text, overrides: overrides, registry: registry) }
            return try LoadedRecipe(file: file, overrides: overrides, registry: registry)
        } catch let error as RecipeError {
            guard let (index, variant) = variant else { throw error }
            var located = error
            located.message = "variant \(index + 1) (\(Self.describe(variant))): " + error.message
            throw located
        }
    }

    static func describe(_ variant: Experiment.Variant) -> String {
        let settings = variant.label
        guard let seed = variant.seed else { return settings.isEmpty ? "the recipe as written" : settings }
        return settings.isEmpty ? "seed \(seed)" : settings + ", seed \(seed)"
    }
}
