import ArgumentParser
import Foundation
import PipeEngine

/// `pipe run RECIPE`: runs every stage that is not cached.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the stages of a recipe that are not cached.")

    @OptionGroup var options: RecipeOptions
    @Option(name: .short, help: "How many stages may run at the same time.") var jobs = 1
    @Option(help: "Run this stage even if it is cached (repeatable).") var force: [String] = []
    @Option(help: "Run only this stage and the stages it reads (repeatable).") var only: [String] = []
    @Flag(name: [.customShort("k"), .long], help: "After a failure, keep running the stages that do not depend on it.") var keepGoing = false
    @Flag(help: "Say what would run, and why; run nothing.") var dryRun = false
    @Option(help: "Name this run; `pipe cache gc` keeps what named runs used.") var tag: String?
    @OptionGroup var executor: ExecutorOption

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("-j must be at least 1 (got \(jobs))") }
    }

    func run() throws {
        var timer = PhaseTimer()
        let loaded = try options.load()
        timer.mark("load")
        try loaded.checkStageNames(force, option: "--force")
        try loaded.checkStageNames(only, option: "--only")
        let project = options.project
        // Settings are checked before the cache is touched: a refused run writes nothing.
        let execution: StageExecution = dryRun ? .local : try executor.execution(project: project, source: .recipe(file: options.recipe, sets: options.sets))
        let runCache = try dryRun ? RunCache(cache: project.cacheForReading(), remote: nil) : project.openRunCache()
        let cache = runCache.cache
        let runOptions = RunOptions(jobs: jobs, force: Set(force), only: only.isEmpty ? nil : Set(only), keepGoing: keepGoing)
        if dryRun {
            let previous = loaded.previousMaterial(ledger: { try? project.existingLedger() }, cache: cache)
            let remote = try RemoteLookup(project: project, cache: cache)
            DryRun.print(Planner.plan(loaded.pipeline, cache: cache, previous: previous, force: runOptions.force, only: runOptions.only,
                                      remote: remote?.output(for:)))
            return
        }
        let ledger = try project.openLedger()
        // The recipe's text, kept by its digest (the ledger's), so `pipe audit` finds it after edits.
        _ = try? cache.objects.write(Data(loaded.text.utf8))
        timer.mark("ledger")
        let previous = loaded.previousMaterial(ledger: { ledger }, cache: cache)
        let run = try RecordedRun.execute(loaded.pipeline, entry: Provenance.runEntry(for: loaded, tag: tag), recipeName: loaded.recipe.name,
                                          cache: cache, ledger: ledger, options: runOptions, previous: previous, cacheRoot: project.cacheRoot,
                                          execution: execution)
        timer.mark("execute")
        if let line = runCache.finish() { print(line) }
        let results = run.results
        ReportSummaries.print(results, cache: cache)
        timer.mark("summary")
        if run.interrupted { throw ExitCode(130) }
        if run.failed || results.contains(where: { $0.status == .skipped }) { throw ExitCode(1) }
    }
}

/// Turns SIGINT and SIGTERM into a cancellation of the run (children are terminated, the cache stays consistent).
final class SignalTrap {
    private var sources: [DispatchSourceSignal] = []

    init(cancellation: Cancellation) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                Terminal.error("\ninterrupted: stopping running stages...")
                cancellation.cancel()
            }
            source.resume()
            sources.append(source)
        }
    }

    func restore() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// `--dry-run` output.
enum DryRun {
    static func print(_ plan: [Planner.Entry]) {
        let width = plan.map(\.job.count).max() ?? 0
        var count = 0
        for entry in plan {
            let name = entry.job.padding(toLength: width, withPad: " ", startingAt: 0)
            switch entry.state {
            case .cached: continue
            case .remote(_, let output): Swift.print("would pull \(name)  \(output.short) from the remote")
            case .stale(let reason):
                count += 1
                Swift.print("would run  \(name)  \(reason)")
            }
        }
        let pulls = plan.filter { if case .remote = $0.state { return true } else { return false } }.count
        Swift.print(count == 0 ? "nothing to run: all \(plan.count) stages cached" + (pulls == 0 ? "" : " (\(pulls) on the remote)")
                    : "\(count) of \(plan.count) stages would run (stages after a re-run stage may still be cached if its output is unchanged)")
    }
}
