import ArgumentParser
import Foundation

/// `pipe runs`: the run ledger, newest first.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List recorded runs, newest first.")

    @OptionGroup var options: CacheOptions
    @Option(help: "How many runs to list.") var limit = 20

    func run() throws {
        guard let ledger = try options.project.existingLedger() else {
            print("no runs recorded in \(options.project.cacheRoot)")
            return
        }
        let rows = try ledger.runs(limit: limit).map { run -> [String] in
            let stages = (try? ledger.stages(ofRun: run.id!)) ?? []
            func count(_ status: String) -> Int { stages.filter { $0.status == status }.count }
            let seconds = run.ended.map { $0.timeIntervalSince(run.started) }
            return [String(run.id!), Show.timestamp(run.started), run.recipeName, run.status,
                    "\(count("ran")) ran, \(count("cached")) cached, \(count("failed")) failed",
                    seconds.map(Terminal.duration) ?? "-", run.tag ?? ""]
        }
        print(Terminal.table(["run", "started", "recipe", "status", "stages", "time", "tag"], rows))
    }
}

enum Show {
    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: date)
    }

    /// A run's recorded environment (JSON object of strings), sorted by name; empty for runs
    /// recorded before it was.
    static func environment(_ json: String) -> [(String, String)] {
        let map = (try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))) ?? [:]
        return map.keys.sorted().map { ($0, map[$0]!) }
    }
}
