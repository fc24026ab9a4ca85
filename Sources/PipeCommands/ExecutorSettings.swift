import ArgumentParser
import Foundation
import PipeCluster
import PipeRecipe

/// Where `pipe run` and `pipe ablate` execute stages: here (`local`, the default) or as Slurm jobs.
///
/// ```yaml
/// executor: slurm
/// # or, with settings:
/// executor:
///   type: slurm
///   partition: gpu            # for stages whose resources name none
///   account: medvlm
///   poll: 1                   # seconds between squeue polls
///   logs: /shared/pipe-logs   # job logs; default CACHE/slurm (the nodes must see it)
///   pipe: /shared/bin/pipe    # the pipe the nodes run; default this one
///   cache: /scratch/pipe      # the nodes' cache; default this run's (shared), else use a remote
///   sbatch: [--qos=normal]    # extra sbatch options
///   resources: {cpus: 2, memory: 8G, time: "1:00:00"}   # defaults for every stage
/// ```
/// `PIPE_EXECUTOR` and `--executor` override the type.
struct ExecutorSettings: Equatable {
    enum Kind: String, CaseIterable { case local, slurm }

    var kind: Kind = .local
    var slurm = SlurmSettings()

    static let keys = ["type", "partition", "account", "poll", "logs", "pipe", "cache", "sbatch", "resources"]

    /// `--executor NAME` or `PIPE_EXECUTOR=NAME` as a kind; a usage error naming `origin` otherwise.
    static func kind(_ name: String, origin: String) throws -> Kind {
        guard let kind = Kind(rawValue: name) else {
            let hint = Suggestions.hint(for: name, in: Kind.allCases.map(\.rawValue)) ?? "executors: local, slurm"
            throw UsageError("\(origin): unknown executor `\(name)`", hint: "\(hint)")
        }
        return kind
    }

    /// The `executor:` node of pipe.yaml.
    static func parse(_ node: Node, file: String) throws -> ExecutorSettings {
        var settings = ExecutorSettings()
        if let name = node.string {
            guard let kind = Kind(rawValue: name) else {
                throw RecipeError(node.location, path: "executor", "unknown executor `\(name)`",
                                  hint: Suggestions.hint(for: name, in: Kind.allCases.map(\.rawValue)) ?? "executors: local, slurm")
            }
            settings.kind = kind
            return settings
        }
        guard let entries = node.entries else {
            throw RecipeError(node.location, path: "executor", "expected `local`, `slurm` or a mapping with `type`", hint: "e.g. executor: slurm")
        }
        for entry in entries where !keys.contains(entry.key) {
            throw RecipeError(entry.keyLocation, path: "executor.\(entry.key)", "unknown executor setting `\(entry.key)`",
                              hint: Suggestions.hint(for: entry.key, in: keys) ?? "executor takes \(keys.joined(separator: ", "))")
        }
        if let type = node["type"] {
            guard let name = type.string, let kind = Kind(rawValue: name) else {
                throw RecipeError(type.location, path: "executor.type", "unknown executor `\(type.value.json)`", hint: "executors: local, slurm")
            }
            settings.kind = kind
        }
        for key in ["partition", "account", "logs", "pipe", "cache"] {
            guard let value = node[key] else { continue }
            guard let text = value.string, !text.isEmpty else {
                throw RecipeError(value.location, path: "executor.\(key)", "expected text, got \(value.typeName)")
            }
            switch key {
            case "partition": settings.slurm.partition = text
            case "account": settings.slurm.account = text
            case "logs": settings.slurm.logs = Project.absolute(text, from: URL(fileURLWithPath: file).deletingLastPathComponent().path)
            case "cache": settings.slurm.cache = text
            default: settings.slurm.pipe = text
            }
        }
        if let poll = node["poll"] {
            let seconds: Double?
            switch poll.content {
            case .int(let value): seconds = Double(value)
            case .double(let value): seconds = value
            default: seconds = nil
            }
            guard let seconds, seconds >= 0.1 else {
                throw RecipeError(poll.location, path: "executor.poll", "expected seconds >= 0.1, got `\(poll.value.json)`")
            }
            settings.slurm.poll = seconds
        }
        if let sbatch = node["sbatch"] {
            guard case .list(let items) = sbatch.content, case let options = items.compactMap(\.string), options.count == items.count else {
                throw RecipeError(sbatch.location, path: "executor.sbatch", "expected a list of sbatch options", hint: "e.g. sbatch: [--qos=normal]")
            }
            settings.slurm.sbatchOptions = options
        }
        settings.slurm.resources = try StageResources.parse(node["resources"], path: "executor.resources").fields
        return settings
    }
}

/// `--executor local|slurm` for `pipe run` and `pipe ablate`.
struct ExecutorOption: ParsableArguments {
    @Option(help: "Where stages execute: local or slurm (default: pipe.yaml's `executor:`, $PIPE_EXECUTOR, else local).")
    var executor: String?

    /// The execution the settings and this option choose; a usage error when Slurm is chosen but absent.
    func execution(project: Project, source: PipelineSource) throws -> StageExecution {
        var settings = try project.settings().executor
        if let executor { settings.kind = try ExecutorSettings.kind(executor, origin: "--executor") }
        switch settings.kind {
        case .local:
            return .local
        case .slurm:
            let client = SlurmClient()
            guard client.locate("sbatch") != nil, client.locate("squeue") != nil else {
                throw UsageError("executor slurm: `sbatch` and `squeue` are not on PATH", hint: "run pipe on the cluster's login node, or use --executor local")
            }
            // sbatch retries a missing configuration file for a minute before it says so.
            if let file = ProcessInfo.processInfo.environment["SLURM_CONF"], !FileManager.default.fileExists(atPath: file) {
                throw UsageError("executor slurm: SLURM_CONF=\(file): no such file",
                                 hint: "point SLURM_CONF at the cluster's slurm.conf, or start a single-node cluster to try pipe: `scripts/slurm-single-node.sh start DIR`")
            }
            return .slurm(settings.slurm, source: source)
        }
    }
}
