import Foundation
import PipeEngine
import PipeLedger
import PipeRecipe

/// What `pipe audit` checks about one recorded run: its provenance chain, and chosen stages
/// re-executed in a scratch cache from their recorded inputs, outputs compared digest by digest.
struct Audit {
    let cache: Cache
    let run: RunEntry
    /// The run's recorded stages by name (ran or cached, with a key and an output).
    let recorded: [String: StageEntry]
    /// The run's graph, rebuilt as it was: its recipe's (or its experiment's union graph).
    let pipeline: Pipeline
    /// The recipe's text as the run read it.
    let recipeText: String
    /// For a `pipe ablate` run: what its grid was built from.
    let experiment: ExperimentSource?
    /// Whether the recipe file on disk is checked against the recorded digest (not for a bundle,
    /// whose recipe.yaml is checked as it is read).
    var checksRecipeFile = true

    /// The outcome for one re-executed stage.
    struct StageOutcome {
        var stage: String
        var kind: String
        /// nil when the stage could not be re-executed as recorded (`problem` says why).
        var diff: TreeDiff?
        var problem: String?
        var seconds: Double
        var reproduced: Bool { diff?.identical == true && problem == nil }
    }

    /// Loads the run's recipe as it was: the file when it still has the recorded digest, else the
    /// recorded text kept in the cache, with the run's overrides; for an ablation run, its
    /// experiment the same way, with the run's axes, seeds and sets.
    static func load(run: RunEntry, stages: [StageEntry], cache: Cache) throws -> Audit {
        guard let text = recorded(run.recipeFile, digest: run.recipeDigest, cache: cache) else {
            throw UsageError("the recipe of run \(run.id!) (\(run.recipeFile), digest \(run.recipeDigest.prefix(12))) is neither on disk unchanged nor in the cache")
        }
        let pipeline: Pipeline
        let experiment = ExperimentSource.decode(run.source)
        if let experiment {
            guard let experimentText = recorded(experiment.experiment, digest: experiment.digest, cache: cache) else {
                throw UsageError("the experiment of run \(run.id!) (\(experiment.experiment), digest \(experiment.digest.prefix(12))) is neither on disk unchanged nor in the cache")
            }
            pipeline = try Ablation.load(experimentText: experimentText, file: experiment.experiment, axes: experiment.axes,
                                         seeds: experiment.seeds, sets: experiment.sets, recipeText: text).pipeline
        } else {
            guard !stages.contains(where: { $0.stage.contains("#") }) else {
                throw UsageError("run \(run.id!) is an ablation grid recorded before grids kept their experiment; audit one variant's `pipe run` instead")
            }
            let overrideTexts = (try? JSONDecoder().decode([String].self, from: Data(run.overrides.utf8))) ?? []
            pipeline = try LoadedRecipe(file: run.recipeFile, text: text, overrides: try overrideTexts.map(Override.init(parsing:))).pipeline
        }
        var recorded: [String: StageEntry] = [:]
        for stage in stages where stage.key != nil && stage.output != nil && (stage.status == "ran" || stage.status == "cached") {
            recorded[stage.stage] = stage
        }
        return Audit(cache: cache, run: run, recorded: recorded, pipeline: pipeline, recipeText: text, experiment: experiment)
    }

    /// A file's text as recorded: the file when it still has `digest`, else the copy the cache keeps.
    static func recorded(_ file: String, digest hex: String, cache: Cache) -> String? {
        if let data = FileManager.default.contents(atPath: file), Digest.of(data).hex == hex { return String(decoding: data, as: UTF8.self) }
        guard let digest = Digest(hex: hex), let data = try? cache.objects.read(digest) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    func inputs(of stage: StageEntry) -> [String: Digest] {
        let map = (try? JSONDecoder().decode([String: String].self, from: Data(stage.inputs.utf8))) ?? [:]
        return map.compactMapValues(Digest.init(hex:))
    }

    /// The provenance chain: the recipe's digest, each stage's recorded inputs against its upstream
    /// stages' recorded outputs, each key's record, and every object present and hashing to its name.
    func verifyChain() -> (problems: [String], objects: Int) {
        var problems: [String] = []
        if checksRecipeFile, let data = FileManager.default.contents(atPath: run.recipeFile), Digest.of(data).hex != run.recipeDigest {
            problems.append("\(run.recipeFile) changed since the run (the audit uses the recorded text)")
        }
        if checksRecipeFile, let experiment, let data = FileManager.default.contents(atPath: experiment.experiment), Digest.of(data).hex != experiment.digest {
            problems.append("\(experiment.experiment) changed since the run (the audit uses the recorded text)")
        }
        var verified = Set<Digest>()
        for job in pipeline.jobs {
            guard let entry = recorded[job.name], let output = entry.output.flatMap(Digest.init(hex:)), let key = entry.key.flatMap(Digest.init(hex:)) else {
                problems.append("stage `\(job.name)` has no recorded result in run \(run.id!)")
                continue
            }
            let recordedInputs = inputs(of: entry)
            for input in job.inputs {
                let upstream = recorded[input.job]?.output.flatMap(Digest.init(hex:))
                if recordedInputs[input.role] != upstream {
                    problems.append("stage `\(job.name)` read input `\(input.role)` \(recordedInputs[input.role]?.short ?? "none"), but `\(input.job)` wrote \(upstream?.short ?? "nothing")")
                }
            }
            if let record = try? cache.actions.record(for: key) {
                if record.output != output { problems.append("stage `\(job.name)`: the cache's record of key \(key.short) names another output") }
            } else {
                problems.append("stage `\(job.name)`: no record of key \(key.short) in the cache")
            }
            do {
                let walked = try Tree.walk(output, in: cache.objects)
                for digest in walked.listings + walked.files.map(\.entry.digest) where verified.insert(digest).inserted {
                    _ = try cache.objects.read(digest)
                }
            } catch {
                problems.append("stage `\(job.name)` output \(output.short): \(error)")
            }
        }
        return (problems, verified.count)
    }

    /// Re-executes `name` in a scratch cache holding only what it needs (its ancestors' records,
    /// their root listings and its inputs' files) and compares the output with the recorded one.
    func reexecute(_ name: String) -> StageOutcome {
        guard let index = pipeline.index[name], let entry = recorded[name], let output = entry.output.flatMap(Digest.init(hex:)) else {
            return StageOutcome(stage: name, kind: "", diff: nil, problem: "no recorded result", seconds: 0)
        }
        let job = pipeline.jobs[index]
        var outcome = StageOutcome(stage: name, kind: job.kind, diff: nil, problem: nil, seconds: 0)
        let closure = pipeline.closure(of: [name])
        // Each stage of the closure must still have the key it was recorded with.
        for i in closure.sorted() {
            let member = pipeline.jobs[i]
            guard let memberEntry = recorded[member.name], let key = memberEntry.key.flatMap(Digest.init(hex:)) else {
                outcome.problem = "upstream stage `\(member.name)` has no recorded result"
                return outcome
            }
            let material = member.keyMaterial(inputs: inputs(of: memberEntry))
            guard material.digest == key else {
                let old = (try? cache.actions.record(for: key))?.material
                let changes = old.map { KeyChange.diff($0, material).map(\.description).joined(separator: "; ") } ?? "its recorded material is not in the cache"
                outcome.problem = "`\(member.name)` no longer has its recorded key (\(changes)); this pipe or recipe would compute something else"
                return outcome
            }
        }
        let scratchRoot = cache.temporaryDirectory + "/audit-\(UUID().uuidString.prefix(8))"
        defer { FileSystem.removeTree(scratchRoot) }
        do {
            let scratch = try Cache.onDisk(root: scratchRoot)
            for i in closure where i != index {
                let member = recorded[pipeline.jobs[i].name]!
                let key = Digest(hex: member.key!)!
                guard let record = try cache.actions.record(for: key) else { throw UsageError("no record of `\(pipeline.jobs[i].name)` (\(key.short))") }
                try scratch.actions.store(record)
                if job.inputs.contains(where: { $0.job == pipeline.jobs[i].name }) {
                    let walked = try Tree.walk(record.output, in: cache.objects)
                    for digest in walked.listings + walked.files.map(\.entry.digest) { try scratch.objects.write(try cache.objects.read(digest)) }
                } else {
                    try scratch.objects.write(try cache.objects.read(record.output))
                }
            }
            let options = RunOptions(jobs: 1, force: [name], only: [name])
            let results = Executor(pipeline: pipeline, cache: scratch, options: options).run()
            guard let result = results.first(where: { $0.job == name }), result.status == .ran, let fresh = result.output else {
                let failed = results.first { $0.status == .failed }
                outcome.problem = "re-execution failed: " + (failed.map { "`\($0.job)`: \($0.message ?? "") \($0.logTail.suffix(3).joined(separator: " | "))" } ?? "no result")
                return outcome
            }
            outcome.seconds = result.seconds
            outcome.diff = try TreeDiff.compare(output, in: cache.objects, with: fresh, in: scratch.objects)
        } catch {
            outcome.problem = "\(error)"
        }
        return outcome
    }
}
