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
    /// Whether the run comes from a bundle: its recipe.yaml is checked as it is read (not the file on
    /// disk), and its results need not be in this cache (re-execution checks them).
    var fromBundle = false

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
    /// `recipeFile` places the recipe's relative paths elsewhere than the run's recipe file (a
    /// bundle's workspace, where its `deps` were written).
    static func load(run: RunEntry, stages: [StageEntry], cache: Cache, recipeFile: String? = nil) throws -> Audit {
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
            pipeline = try LoadedRecipe(file: recipeFile ?? run.recipeFile, text: text, overrides: try overrideTexts.map(Override.init(parsing:))).pipeline
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
        if !fromBundle, let data = FileManager.default.contents(atPath: run.recipeFile), Digest.of(data).hex != run.recipeDigest {
            problems.append("\(run.recipeFile) changed since the run (the audit uses the recorded text)")
        }
        if !fromBundle, let experiment, let data = FileManager.default.contents(atPath: experiment.experiment), Digest.of(data).hex != experiment.digest {
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
            } else if !fromBundle {
                // A bundle's stages need not be in the reviewer's cache: re-execution checks them.
                problems.append("stage `\(job.name)`: no record of key \(key.short) in the cache")
            }
            do {
                let walked = try Tree.walk(output, in: cache.objects)
                for digest in walked.listings + walked.files.map(\.entry.digest) where verified.insert(digest).inserted {
                    guard !fromBundle || cache.objects.contains(digest) else { continue }
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
    /// An ancestor's record missing from the cache (a bundle audited elsewhere) is rebuilt from the
    /// ledger's entry; `announce` is called once the stage is about to run. A stage that reproduces
    /// leaves its recorded output complete in the cache, so the stages after it can be re-executed
    /// from it.
    func reexecute(_ name: String, announce: () -> Void = {}) -> StageOutcome {
        guard let index = pipeline.index[name], let entry = recorded[name], let output = entry.output.flatMap(Digest.init(hex:)) else {
            return StageOutcome(stage: name, kind: "", diff: nil, problem: "no recorded result", seconds: 0)
        }
        let job = pipeline.jobs[index]
        var outcome = StageOutcome(stage: name, kind: job.kind, diff: nil, problem: nil, seconds: 0)
        let closure = pipeline.closure(of: [name])
        var records: [Int: ActionRecord] = [:]
        for i in closure.sorted() {
            switch record(of: pipeline.jobs[i]) {
            case .success(let record): records[i] = record
            case .failure(let problem):
                outcome.problem = problem.description
                return outcome
            }
        }
        let scratchRoot = cache.temporaryDirectory + "/audit-\(UUID().uuidString.prefix(8))"
        defer { FileSystem.removeTree(scratchRoot) }
        do {
            let scratch = try Cache.onDisk(root: scratchRoot)
            for i in closure where i != index {
                let record = records[i]!, upstream = pipeline.jobs[i].name
                try scratch.actions.store(record)
                if job.inputs.contains(where: { $0.job == upstream }) {
                    guard let objects = try? Tree.walk(record.output, in: cache.objects),
                          objects.files.allSatisfy({ cache.objects.contains($0.entry.digest) }) else {
                        outcome.problem = "needs the output of `\(upstream)` (\(record.output.short)), which this cache does not hold; "
                            + "re-execute `\(upstream)` first (--stage \(upstream) --stage \(name), or --all), or pull the run's results from its remote"
                        return outcome
                    }
                    for digest in objects.listings + objects.files.map(\.entry.digest) { try scratch.objects.write(try cache.objects.read(digest)) }
                } else {
                    try scratch.objects.write(try cache.objects.read(record.output))
                }
            }
            announce()
            let options = RunOptions(jobs: 1, force: [name], only: [name])
            let results = Executor(pipeline: pipeline, cache: scratch, options: options).run()
            guard let result = results.first(where: { $0.job == name }), result.status == .ran, let fresh = result.output else {
                let failed = results.first { $0.status == .failed }
                outcome.problem = "re-execution failed: " + (failed.map { "`\($0.job)`: \($0.message ?? "") \($0.logTail.suffix(3).joined(separator: " | "))" } ?? "no result")
                return outcome
            }
            outcome.seconds = result.seconds
            guard (try? Tree.walk(output, in: cache.objects)) != nil else {
                outcome.problem = "ran (output \(fresh.short)), but the recorded output \(output.short) is not in this cache to compare with; "
                    + "audit with the cache or remote that holds the run's results, or with its bundle (`pipe audit --export`)"
                return outcome
            }
            outcome.diff = try TreeDiff.compare(output, in: cache.objects, with: fresh, in: scratch.objects)
            if outcome.reproduced { try complete(output, from: scratch.objects) }
        } catch {
            outcome.problem = "\(error)"
        }
        return outcome
    }

    /// The record of `job` as the run made it: the cache's, else rebuilt from the ledger's entry (a
    /// bundle's); a problem when the job has no recorded result or this pipe computes another key.
    func record(of job: Job) -> Result<ActionRecord, UsageError> {
        guard let entry = recorded[job.name], let key = entry.key.flatMap(Digest.init(hex:)), let output = entry.output.flatMap(Digest.init(hex:)) else {
            return .failure(UsageError("upstream stage `\(job.name)` has no recorded result"))
        }
        let material = job.keyMaterial(inputs: inputs(of: entry))
        guard material.digest == key else {
            let old = (try? cache.actions.record(for: key))?.material
            let changes = old.map { KeyChange.diff($0, material).map(\.description).joined(separator: "; ") } ?? "its recorded material is not in the cache"
            return .failure(UsageError("`\(job.name)` no longer has its recorded key (\(changes)); this pipe or recipe would compute something else"))
        }
        if let record = try? cache.actions.record(for: key), record.output == output { return .success(record) }
        return .success(ActionRecord(key: key, output: output, log: nil, material: material, stage: job.name, kind: job.kind,
                                     files: 0, bytes: 0, seconds: entry.seconds, created: entry.started))
    }

    /// Makes the recorded tree `output` whole in the cache, taking the files it lacks from a
    /// re-execution that reproduced it (the same digests; the bundle carried the rest).
    private func complete(_ output: Digest, from fresh: ContentStore) throws {
        for file in try Tree.walk(output, in: cache.objects).files where !cache.objects.contains(file.entry.digest) {
            guard fresh.contains(file.entry.digest) else { continue }
            try cache.objects.write(try fresh.read(file.entry.digest))
        }
    }
}
