/// What a run would do, without running anything: the plan behind `pipe status` and `--dry-run`.
public enum Planner {
    public enum State: Equatable, Sendable {
        case cached(key: Digest, output: Digest)
        /// Not here, but the team's remote has it: a run fetches it instead of executing it.
        case remote(key: Digest, output: Digest)
        case stale(RunReason)
    }

    public struct Entry: Sendable {
        public var job: String
        public var state: State
        /// Known when all inputs are cached.
        public var key: Digest?
    }

    /// Plans every job (or the `only` jobs and what they read) in topological order. `remote`, when
    /// given, answers a local miss with the output a remote has for the key (nil: none).
    public static func plan(_ pipeline: Pipeline, cache: Cache, previous: PreviousMaterial,
                            force: Set<String> = [], only: Set<String>? = nil, remote: ((Digest) -> Digest?)? = nil) -> [Entry] {
        let selected = only.map { pipeline.closure(of: $0) }
        var outputs: [Int: Digest] = [:]
        var entries: [Entry] = []
        for i in pipeline.order where selected?.contains(i) ?? true {
            let job = pipeline.jobs[i]
            var digests: [String: Digest] = [:]
            var waiting: [String] = []
            for input in job.inputs {
                if let digest = outputs[pipeline.index[input.job]!] { digests[input.role] = digest } else { waiting.append(input.job) }
            }
            if !waiting.isEmpty {
                var changes: [KeyChange] = []
                if let old = previous(job.name) {
                    changes = KeyChange.diff(old, job.keyMaterial(inputs: [:])).filter { !$0.path.hasPrefix("inputs") }
                }
                entries.append(Entry(job: job.name, state: .stale(.waitingOn(Array(Set(waiting)).sorted(), changes: changes))))
                continue
            }
            let material = job.keyMaterial(inputs: digests)
            let key = material.digest
            // A damaged result is stale, as the run will find it (which then removes its record).
            var hit: (output: Digest, log: Digest?)?, damage: String?
            if !force.contains(job.name) {
                do { hit = try cache.checkedHit(key) } catch { damage = "\(error)" }
            }
            if force.contains(job.name) {
                entries.append(Entry(job: job.name, state: .stale(.forced), key: key))
            } else if let record = hit {
                outputs[i] = record.output
                entries.append(Entry(job: job.name, state: .cached(key: key, output: record.output), key: key))
            } else if let damage {
                entries.append(Entry(job: job.name, state: .stale(.corruptOutput(damage)), key: key))
            } else if let output = remote?(key) {
                outputs[i] = output
                entries.append(Entry(job: job.name, state: .remote(key: key, output: output), key: key))
            } else {
                entries.append(Entry(job: job.name, state: .stale(RunReason.explain(previous: previous(job.name), current: material)), key: key))
            }
        }
        return entries
    }
}
