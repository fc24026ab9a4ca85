import ArgumentParser
import Foundation
import PipeEngine

/// `pipe get RUN STAGE`: copies a stage's artifact out of the cache, or prints its log.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Copy a stage's output out of the cache (or print its log).")

    @OptionGroup var options: CacheOptions
    @Argument(help: "A run id, a tag, or `latest`.") var reference: String
    @Argument(help: "The stage.") var stage: String
    @Option(help: "Where to write the files (default: ./STAGE); must not exist.") var out: String?
    @Flag(help: "Print the stage's captured stdout/stderr instead.") var log = false

    func run() throws {
        let project = options.project
        guard let ledger = try project.existingLedger(), let run = try ledger.run(reference) else {
            throw UsageError("no run `\(reference)` in \(project.cacheRoot)", hint: "`pipe runs` lists the recorded runs")
        }
        let stages = try ledger.stages(ofRun: run.id!)
        guard let entry = stages.first(where: { $0.stage == stage }) else {
            let names = stages.map(\.stage)
            throw UsageError("run \(run.id!) has no stage `\(stage)` (stages: \(names.joined(separator: ", ")))")
        }
        let cache = try project.openCache()
        if log {
            guard let hex = entry.log, let digest = Digest(hex: hex) else { throw UsageError("stage `\(stage)` of run \(run.id!) has no log") }
            FileHandle.standardOutput.write(try cache.objects.read(digest))
            return
        }
        guard let hex = entry.output, let digest = Digest(hex: hex) else {
            throw UsageError("stage `\(stage)` of run \(run.id!) has no output (\(entry.status))")
        }
        let target = Project.absolute(out ?? stage, from: FileManager.default.currentDirectoryPath)
        guard !FileManager.default.fileExists(atPath: target) else {
            throw UsageError("\(target) exists; choose another --out or remove it")
        }
        do {
            // The whole tree is checked (names, size) before anything is written; a failure part-way
            // removes what was written.
            try Tree.materialize(digest, from: cache.objects, into: target)
        } catch {
            throw UsageError("cannot copy the output of `\(stage)`", cause: error, hint: "`pipe cache verify --repair` removes damaged results; `pipe run` then recomputes them")
        }
        print("wrote \(target)")
    }
}
