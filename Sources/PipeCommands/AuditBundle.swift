import Foundation
import PipeEngine
import PipeLedger

/// `pipe audit --export RUN DIR`: a self-contained record of a run that a reviewer checks against a
/// cache with `pipe audit --bundle DIR`: `bundle.json` (the run's ledger entry and its stages, with
/// resolved params, overrides, environment, keys, input and output digests), `recipe.yaml` (the
/// recipe as it ran), for an ablation grid `experiment.yaml` (the experiment as it ran),
/// `outputs/STAGE.txt` (every output file's digest and size), `metrics/STAGE.json` (each
/// stage's metrics, when it wrote any), and `objects/` with `deps.json` (`AuditBundleFiles`).
enum AuditBundle {
    static let format = "pipe-audit-bundle 1"

    struct Contents: Codable {
        var format: String
        var run: RunEntry
        var stages: [StageEntry]
    }

    /// What an export wrote, for its message.
    struct Written {
        var stages = 0, metrics = 0, dependencies = 0
    }

    static func export(_ audit: Audit, stages: [StageEntry], text: String, to directory: String) throws -> Written {
        var written = Written()
        let manager = FileManager.default
        guard !manager.fileExists(atPath: directory) else { throw UsageError("\(directory) exists; choose a new directory for the bundle") }
        let staging = directory + ".partial-\(UUID().uuidString.prefix(8))"
        try manager.createDirectory(atPath: staging + "/outputs", withIntermediateDirectories: true)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            try encoder.encode(Contents(format: format, run: audit.run, stages: stages)).write(to: URL(fileURLWithPath: staging + "/bundle.json"))
            try text.write(toFile: staging + "/recipe.yaml", atomically: false, encoding: .utf8)
            if let experiment = audit.experiment {
                guard let experimentText = Audit.recorded(experiment.experiment, digest: experiment.digest, cache: audit.cache) else {
                    throw UsageError("the experiment of run \(audit.run.id!) (\(experiment.experiment)) is neither on disk unchanged nor in the cache")
                }
                try experimentText.write(toFile: staging + "/experiment.yaml", atomically: false, encoding: .utf8)
            }
            for (name, entry) in audit.recorded.sorted(by: { $0.key < $1.key }) {
                guard let output = entry.output.flatMap(Digest.init(hex:)) else { continue }
                let files = try Tree.walk(output, in: audit.cache.objects).files
                let listing = files.map { "\($0.entry.digest.hex) \($0.entry.size ?? 0) \($0.path)" }.joined(separator: "\n")
                try ("tree \(output.hex)\n" + listing + "\n").write(toFile: staging + "/outputs/\(name).txt", atomically: false, encoding: .utf8)
                written.stages += 1
                try AuditBundleFiles.exportOutput(output, from: audit.cache, to: staging)
                for metrics in ["metrics.json", "smoothing.json"] {
                    if let file = files.first(where: { $0.path == metrics }) {
                        try manager.createDirectory(atPath: staging + "/metrics", withIntermediateDirectories: true)
                        try audit.cache.objects.read(file.entry.digest).write(to: URL(fileURLWithPath: staging + "/metrics/\(name).json"))
                        written.metrics += 1
                        break
                    }
                }
            }
            written.dependencies = try AuditBundleFiles.export(audit, to: staging)
            FileSystem.removeTree(staging + "/tmp")
            try manager.moveItem(atPath: staging, toPath: directory)
            return written
        } catch {
            try? manager.removeItem(atPath: staging)
            throw error
        }
    }

    /// Reads a bundle; the recipe text and the objects the bundle carries go into the cache, where
    /// the audit finds them.
    static func load(_ directory: String, cache: Cache) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: directory + "/bundle.json") else {
            throw UsageError("\(directory) is not an audit bundle (no bundle.json)", hint: "`pipe audit --export RUN DIR` writes one")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let contents = try? decoder.decode(Contents.self, from: withLaterFields(data)), contents.format == format else {
            throw UsageError("\(directory)/bundle.json is not a `\(format)` bundle")
        }
        guard let text = FileManager.default.contents(atPath: directory + "/recipe.yaml"), Digest.of(text).hex == contents.run.recipeDigest else {
            throw UsageError("\(directory)/recipe.yaml is missing or does not have the digest bundle.json records (\(contents.run.recipeDigest.prefix(12)))")
        }
        try cache.objects.write(text)
        try AuditBundleFiles.importObjects(from: directory, into: cache)
        if let experiment = ExperimentSource.decode(contents.run.source) {
            guard let text = FileManager.default.contents(atPath: directory + "/experiment.yaml"), Digest.of(text).hex == experiment.digest else {
                throw UsageError("\(directory)/experiment.yaml is missing or does not have the digest bundle.json records (\(experiment.digest.prefix(12)))")
            }
            try cache.objects.write(text)
        }
        return contents
    }

    /// A bundle written before runs recorded their source and stages their node's environment,
    /// with those fields empty.
    static func withLaterFields(_ data: Data) -> Data {
        guard var root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return data }
        if var run = root["run"] as? [String: Any], run["source"] == nil {
            run["source"] = ""
            root["run"] = run
        }
        if let stages = root["stages"] as? [[String: Any]] {
            root["stages"] = stages.map { stage in stage["environment"] == nil ? stage.merging(["environment": ""]) { a, _ in a } : stage }
        }
        return (try? JSONSerialization.data(withJSONObject: root)) ?? data
    }
}
