import ArgumentParser
import PipeEngine
import PipeRemote

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
        let remote = try RemoteLookup(project: project, cache: cache)
        let plan = Planner.plan(loaded.pipeline, cache: cache, previous: previous, remote: remote?.output(for:))
        timer.mark("plan")
        let width = plan.map(\.job.count).max() ?? 0
        var stale = 0, onRemote = 0
        for entry in plan {
            let name = entry.job.padding(toLength: width, withPad: " ", startingAt: 0)
            switch entry.state {
            case .cached(_, let output): print("\(name)  cached  \(output.short)")
            case .remote(_, let output):
                onRemote += 1
                print("\(name)  remote  \(output.short) (fetched, not run, by the next run)")
            case .stale(let reason):
                stale += 1
                print("\(name)  stale   \(reason)")
            }
        }
        let remoteNote = onRemote == 0 ? "" : ", \(onRemote) on the remote \(remote?.name ?? "")"
        print(stale == 0 ? "all \(plan.count) stages cached\(remoteNote)" : "\(stale) of \(plan.count) stages stale\(remoteNote)")
    }
}

/// Asks the configured remote, without downloading anything, whether it has a key's result: what
/// `pipe status` and `--dry-run` show as `remote`. A remote that does not answer is reported once
/// and then treated as empty.
final class RemoteLookup {
    let remote: RemoteCache
    private var failed = false

    var name: String { remote.backend.displayName }

    /// nil without a configured remote.
    init?(project: Project, cache: Cache) throws {
        let settings = try project.settings()
        guard settings.remote != nil else { return nil }
        do {
            remote = try project.remoteCache(settings, local: cache)
        } catch let error as RemoteError {
            if case .configuration = error { throw UsageError(wrapping: error) }
            Terminal.error("warning: \(error); showing the local cache only")
            return nil
        }
    }

    /// The output the remote's record of `key` names, or nil.
    func output(for key: Digest) -> Digest? {
        guard !failed else { return nil }
        do {
            return try remote.remoteRecord(key)?.output
        } catch RemoteError.untrusted(let distrust) {
            if remote.isFirstNotice(distrust) { Terminal.error("warning: \(distrust)") }
            return nil
        } catch RemoteError.corrupt(let text) {
            Terminal.error("warning: \(text)")
            return nil
        } catch {
            failed = true
            Terminal.error("warning: remote \(name): \(error); showing the local cache only")
            return nil
        }
    }
}
