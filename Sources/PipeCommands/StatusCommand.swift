import ArgumentParser
import PipeEngine

/// `pipe status RECIPE`: each stage cached or stale, and why.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show which stages are cached and why the others are stale.")

    @OptionGroup var options: RecipeOptions

    func run() throws {
        var timer = PhaseTimer()
        let loaded = try options.load()
        timer.mark("load")
        let project = options.project
        let cache = try project.cacheForReading()
        let previous = loaded.previousMaterial(ledger: { try? project.existingLedger() }, cache: cache)
        let plan = Planner.plan(loaded.pipeline, cache: cache, previous: previous)
        timer.mark("plan")
        let width = plan.map(\.job.count).max() ?? 0
        var stale = 0
        for entry in plan {
            let name = entry.job.padding(toLength: width, withPad: " ", startingAt: 0)
            switch entry.state {
            case .cached(_, let output): print("\(name)  cached  \(output.short)")
            case .stale(let reason):
                stale += 1
                print("\(name)  stale   \(reason)")
            }
        }
        print(stale == 0 ? "all \(plan.count) stages cached" : "\(stale) of \(plan.count) stages stale")
    }
}
