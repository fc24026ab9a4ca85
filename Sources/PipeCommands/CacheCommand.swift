import ArgumentParser
import Foundation
import PipeEngine

/// `pipe cache ls|verify|gc|push|pull|status|key`.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cache", abstract: "Inspect, verify, trim and share the artifact cache.",
                                                    subcommands: [List.self, Verify.self, Collect.self, Push.self, Pull.self, Status.self, Key.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List cached stage results.")
        @OptionGroup var options: CacheOptions

        func run() throws {
            let cache = try options.project.openCache()
            var records: [ActionRecord] = []
            for key in try cache.actions.allKeys() {
                if let record = try? cache.actions.record(for: key) { records.append(record) }
            }
            records.sort { $0.created < $1.created }
            let rows = records.map { record in
                [record.key.short, record.stage, record.kind, String(record.files), Self.bytes(record.bytes),
                 Show.timestamp(record.created)]
            }
            print(Terminal.table(["key", "stage", "kind", "files", "size", "created"], rows))
            print("\(records.count) cached results in \(options.project.cacheRoot)")
        }

        static func bytes(_ count: Int) -> String {
            if count < 1024 { return "\(count) B" }
            if count < 1 << 20 { return String(format: "%.1f KiB", Double(count) / 1024) }
            if count < 1 << 30 { return String(format: "%.1f MiB", Double(count) / 1048576) }
            return String(format: "%.2f GiB", Double(count) / 1073741824)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify", abstract: "Hash every object and check every record; exit 1 on any problem.")
        @OptionGroup var options: CacheOptions
        @Flag(help: "Remove corrupted objects and the results that reach them, so that `pipe run` recomputes those stages.")
        var repair = false

        func run() throws {
            let cache = try options.project.openCache()
            guard repair else {
                let report = CacheMaintenance.verify(cache)
                for problem in report.problems { print("problem: \(problem)") }
                if report.problems.isEmpty {
                    print("cache ok: \(report.objects) objects, \(report.records) records verified")
                } else {
                    print("\(report.problems.count) problems in \(report.objects) objects, \(report.records) records (`pipe cache verify --repair` removes what they affect; `pipe run` then recomputes it)")
                    throw ExitCode(1)
                }
                return
            }
            let report = try CacheMaintenance.repair(cache)
            for line in report.removed { print("removed \(line)") }
            let checked = "\(report.verified.objects) objects, \(report.verified.records) records verified"
            if report.removed.isEmpty {
                print("cache ok: \(checked); nothing to repair")
            } else {
                print("repaired: \(checked); removed \(report.verified.corruptObjects.count) corrupted objects and \(report.verified.damagedRecords.count) results that reached them (the next `pipe run` recomputes those stages)")
            }
        }
    }

    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gc", abstract: "Delete cached results that recent, tagged or named runs did not use.")
        @OptionGroup var options: CacheOptions
        @Option(help: "Keep what the newest N runs used.") var keepLast = 5
        @Option(help: "Also keep what this run (id or tag) used (repeatable).") var keep: [String] = []

        func run() throws {
            guard keepLast >= 0 else { throw ValidationError("--keep-last must be 0 or more") }
            let project = options.project
            let cache = try project.openCache()
            let kept = try project.existingLedger()?.kept(keepLast: keepLast, keep: keep) ?? (keys: [], recipes: [])
            // The recipe texts of kept runs stay too: `pipe audit` reads them.
            let report = try CacheMaintenance.collect(cache, keep: Set(kept.keys.compactMap(Digest.init(hex:))),
                                                      keepObjects: Set(kept.recipes.compactMap(Digest.init(hex:))))
            print("kept \(report.recordsKept) results (\(report.objectsKept) objects); removed \(report.recordsRemoved) results and \(report.objectsRemoved) objects, freeing \(List.bytes(report.bytesFreed)); removed \(report.locksRemoved) unused lock files")
        }
    }
}
