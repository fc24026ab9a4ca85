/// How `pipe run --executor slurm` submits: from `executor:` in `pipe.yaml` (never from recipes).
public struct SlurmSettings: Sendable, Equatable {
    /// The partition for stages that name none.
    public var partition: String?
    /// `--account` for every job.
    public var account: String?
    /// Seconds between two `squeue` polls.
    public var poll: Double
    /// Where job logs and results go (on a file system the nodes share); nil: `CACHE/slurm`.
    public var logs: String?
    /// The `pipe` executable the nodes run; nil: this one.
    public var pipe: String?
    /// The cache directory the nodes use; nil: the submitting run's (a shared file system). A
    /// node-local one needs a remote to share results through.
    public var cache: String?
    /// Extra `sbatch` options for every job, e.g. `--qos=normal`.
    public var sbatchOptions: [String]
    /// Resources for stages that do not set them (`cpus` -> `"4"`).
    public var resources: [String: String]

    public init(partition: String? = nil, account: String? = nil, poll: Double = 1, logs: String? = nil, pipe: String? = nil,
                cache: String? = nil, sbatchOptions: [String] = [], resources: [String: String] = [:]) {
        self.cache = cache
        self.partition = partition
        self.account = account
        self.poll = poll
        self.logs = logs
        self.pipe = pipe
        self.sbatchOptions = sbatchOptions
        self.resources = resources
    }

    /// The `sbatch` options for a job with `resources` (the stage's, over the defaults).
    public func options(for resources: [String: String]) -> [String] {
        let merged = self.resources.merging(resources) { _, stage in stage }
        var options: [String] = []
        if let cpus = merged["cpus"] { options.append("--cpus-per-task=\(cpus)") }
        if let gpus = merged["gpus"], gpus != "0" { options.append("--gres=gpu:\(gpus)") }
        if let memory = merged["memory"] { options.append("--mem=\(memory)") }
        if let time = merged["time"] { options.append("--time=\(time)") }
        if let partition = merged["partition"] ?? partition { options.append("--partition=\(partition)") }
        if let account { options.append("--account=\(account)") }
        return options + sbatchOptions
    }
}
