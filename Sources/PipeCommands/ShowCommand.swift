import ArgumentParser
import Foundation

/// `pipe show RUN`: one run's provenance.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one run's full provenance.")

    @OptionGroup var options: CacheOptions
    @Argument(help: "A run id, a tag, or `latest`.") var reference: String

    func run() throws {
        guard let ledger = try options.project.existingLedger(), let entry = try ledger.run(reference) else {
            throw UsageError("no run `\(reference)` in \(options.project.cacheRoot)", hint: "`pipe runs` lists the recorded runs")
        }
        print("""
        run          \(entry.id!)\(entry.tag.map { " (tag \($0))" } ?? "")
        status       \(entry.status)
        recipe       \(entry.recipeName) (\(entry.recipeFile), sha256:\(entry.recipeDigest))
        params       \(entry.params)
        overrides    \(entry.overrides)
        command      \(entry.commandLine)
        started      \(Show.timestamp(entry.started))\(entry.ended.map { "  ended " + Show.timestamp($0) } ?? "")
        host         \(entry.host)
        machine      \(entry.machine)
        pipe         \(entry.pipeVersion)
        """)
        for (name, value) in Show.environment(entry.environment) where name != "pipe" {
            print(name.padding(toLength: max(13, name.count + 1), withPad: " ", startingAt: 0) + value)
        }
        for stage in try ledger.stages(ofRun: entry.id!) {
            print("\nstage \(stage.stage) [\(stage.kind)]: \(stage.status)" + (stage.status == "cached" ? "" : " in \(Terminal.duration(stage.seconds))"))
            if stage.status != "cached" {
                print("  time    \(Show.timestamp(stage.started)) to \(Show.timestamp(stage.started.addingTimeInterval(stage.seconds))) on \(stage.host)")
            }
            // A stage a cluster node executed: what of that node differs from the run's machine.
            let runEnvironment = Dictionary(Show.environment(entry.environment), uniquingKeysWith: { a, _ in a })
            for (name, value) in Show.environment(stage.environment)
            where name == "machine" ? value != entry.machine : (name != "pipe" && runEnvironment[name] != value) {
                print("  node    \(name): \(value)")
            }
            if let reason = stage.reason { print("  why     \(reason)") }
            if let message = stage.message { print("  error   \(message)") }
            if let key = stage.key { print("  key     sha256:\(key)") }
            if stage.inputs != "{}" { print("  inputs  \(stage.inputs)") }
            if let output = stage.output { print("  output  sha256:\(output)") }
            if let log = stage.log { print("  log     sha256:\(log)") }
        }
    }
}
