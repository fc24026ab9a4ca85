import Foundation
import PipeEngine
import PipeLedger
import PipeRecipe
import PipeRemote
import PipeStages


/// Where a command's cache is, per the SPEC: `--cache DIR`, else `PIPE_CACHE`, else `artifacts/`
/// beside the nearest `pipe.yaml` above the current directory, else `./artifacts`.
struct Project {
    let cacheRoot: String
    /// The nearest `pipe.yaml` above the current directory (project settings), if any.
    let settingsFile: String?

    init(cacheOption: String?) {
        let fileManager = FileManager.default
        let current = fileManager.currentDirectoryPath
        var directory = URL(fileURLWithPath: current).standardizedFileURL
        var found: String?
        while true {
            if fileManager.fileExists(atPath: directory.appendingPathComponent("pipe.yaml").path) {
                found = directory.path
                break
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        settingsFile = found.map { $0 + "/pipe.yaml" }
        if let option = cacheOption {
            cacheRoot = Project.absolute(option, from: current)
        } else if let variable = ProcessInfo.processInfo.environment["PIPE_CACHE"], !variable.isEmpty {
            cacheRoot = Project.absolute(variable, from: current)
        } else {
            cacheRoot = (found ?? current) + "/artifacts"
        }
    }

    /// The project's settings (pipe.yaml and the environment).
    func settings() throws -> ProjectSettings {
        try ProjectSettings.load(file: settingsFile)
    }

    /// The cache `pipe run` and `pipe ablate` execute with: the local one, with the configured
    /// remote behind it (read-through, write-through).
    func openRunCache() throws -> RunCache {
        let settings = try settings()
        guard settings.remote != nil else { return RunCache(cache: try openCache(), remote: nil) }
        let remote: RemoteCache
        do {
            remote = try remoteCache(settings, local: try openCache())
        } catch let error as RemoteError {
            if case .configuration = error { throw UsageError(wrapping: error) }
            Terminal.error("warning: \(error); continuing with the local cache")
            return RunCache(cache: try openCache(), remote: nil)
        }
        let readThrough = ReadThroughActionCache(remote: remote) { Terminal.error($0) }
        return RunCache(cache: readThrough.cache, remote: readThrough)
    }

    /// The configured remote over the local cache, for `pipe cache push|pull|status`.
    func openRemote() throws -> RemoteCache {
        let settings = try settings()
        guard settings.remote != nil else {
            throw UsageError("no remote configured", hint: "add `remote: /mnt/shared/pipe-cache` (or http://host:port/path/) to pipe.yaml, or set PIPE_REMOTE")
        }
        do {
            return try remoteCache(settings, local: try openCache())
        } catch let error as RemoteError {
            throw UsageError(wrapping: error)
        }
    }

    /// The configured remote (there must be one) over `local`: records pushed are signed with the
    /// user's key, records pulled are used as `settings.trust` and the user's own key allow.
    func remoteCache(_ settings: ProjectSettings, local: Cache) throws -> RemoteCache {
        let remote = settings.remote!
        let keyFile = SigningKeyFile()
        var trust = settings.trust
        trust.ownKey = try keyFile.existing()?.publicKey
        return RemoteCache(backend: try remote.backend(), local: local, parallel: remote.parallel, trust: trust, signingKey: keyFile)
    }

    static func absolute(_ path: String, from directory: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }

    /// The on-disk cache, created if needed.
    func openCache() throws -> Cache {
        do {
            return try Cache.onDisk(root: cacheRoot)
        } catch {
            throw UsageError("cannot use the cache at \(cacheRoot)", cause: error)
        }
    }

    /// The cache for commands that only read it: an empty one in memory when none exists yet, so
    /// that `pipe status` and `--dry-run` create nothing.
    func cacheForReading() throws -> Cache {
        guard FileManager.default.fileExists(atPath: cacheRoot + "/objects") else {
            return Cache(objects: MemoryContentStore(), actions: MemoryActionCache(), locks: MemoryKeyLocks(),
                         temporaryDirectory: NSTemporaryDirectory())
        }
        return try openCache()
    }

    /// The run ledger in the cache directory.
    func openLedger() throws -> Ledger {
        do {
            try FileManager.default.createDirectory(atPath: cacheRoot, withIntermediateDirectories: true)
            return try Ledger(path: cacheRoot + "/ledger.sqlite")
        } catch let error as LedgerError {
            throw UsageError(wrapping: error)
        } catch {
            throw UsageError("cannot open the run ledger in \(cacheRoot)", cause: error)
        }
    }

    /// The ledger if one exists already, opened only to read (read-only commands do not create one,
    /// and read a cache they cannot write); opened to migrate it if an older pipe wrote it.
    func existingLedger() throws -> Ledger? {
        let path = cacheRoot + "/ledger.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try Ledger(readingAt: path) ?? openLedger()
        } catch let error as LedgerError {
            throw UsageError(wrapping: error)
        }
    }
}

/// A run's cache and, when a remote is configured, the read-through layer over it.
struct RunCache {
    let cache: Cache
    let remote: ReadThroughActionCache?

    /// Pushes the results the run found only locally, then says what crossed:
    /// `remote NAME: N results pulled (X), M pushed (Y)`, and how many results are still only local;
    /// nil without a remote.
    func finish() -> String? {
        guard let remote else { return nil }
        let (caughtUp, unpushed) = remote.pushLocalHits()
        let counts = remote.remote.transferred
        return "remote \(remote.remote.backend.displayName): \(counts.recordsFetched) results pulled (\(CacheCommand.List.bytes(counts.bytesFetched))), "
            + "\(counts.recordsPushed) pushed (\(counts.objectsPushed) objects, \(CacheCommand.List.bytes(counts.bytesPushed)))"
            + (caughtUp > 0 ? "; \(caughtUp) of them were cached only locally before" : "")
            + (unpushed > 0 ? "; \(unpushed) results are still only local (`pipe cache push` sends them)" : "")
    }
}

/// A recipe read, validated and turned into jobs.
struct LoadedRecipe {
    let file: String
    let text: String
    let recipe: Recipe
    let overrides: [Override]
    let pipeline: Pipeline

    /// Reads `file`, applies `sets` (`path=value`), validates, and hashes `deps`.
    init(file: String, sets: [String], registry: KindRegistry = .builtIn) throws {
        try self.init(file: file, overrides: try sets.map(Override.init(parsing:)), registry: registry)
    }

    /// Reads `file`, applies `overrides`, validates, and hashes `deps`.
    init(file: String, overrides: [Override], registry: KindRegistry = .builtIn) throws {
        let text = try InputFile.text(file, what: "recipe", hint: "recipes live in recipes/, e.g. `pipe run recipes/demo.yaml`")
        try self.init(file: file, text: text, overrides: overrides, registry: registry)
    }

    /// A recipe from its text (as recorded for `pipe audit`); `file` places relative paths.
    init(file: String, text: String, overrides: [Override], registry: KindRegistry = .builtIn) throws {
        let recipe = try Recipe.parse(text, file: file, overrides: overrides, kinds: registry.names)
        let jobs = try JobBuilder(registry: registry).jobs(for: recipe, recipeFile: file)
        self.file = file
        self.text = text
        self.recipe = recipe
        self.overrides = overrides
        self.pipeline = Pipeline(jobs: jobs)
    }

    /// Checks stage names given on the command line (`--force`, `--only`).
    func checkStageNames(_ names: [String], option: String) throws {
        let known = recipe.stages.map(\.name)
        for name in names where !known.contains(name) {
            throw UsageError("\(option) \(name): no stage `\(name)` in \(file)", hint: Suggestions.hint(for: name, in: known))
        }
    }

    /// The material each stage had when it last ran, from the ledger and the action cache. Asked only
    /// for stages that are not cached, so a fully cached recipe never reads the ledger's history.
    func previousMaterial(ledger: @escaping () -> Ledger?, cache: Cache) -> PreviousMaterial {
        let recipeName = recipe.name
        let actions = cache.actions
        let opened = LazyLedger(open: ledger)
        return { stage in
            guard let hex = try? opened.value?.lastKey(recipe: recipeName, stage: stage), let key = Digest(hex: hex) else { return nil }
            return (try? actions.record(for: key))?.material
        }
    }
}

/// Opens the ledger on first use, once, from any thread.
private final class LazyLedger: @unchecked Sendable {
    private let open: () -> Ledger?
    private let lock = NSLock()
    private var opened: Ledger??

    init(open: @escaping () -> Ledger?) { self.open = open }

    var value: Ledger? {
        lock.withLock {
            if let opened { return opened }
            let ledger = open()
            opened = .some(ledger)
            return ledger
        }
    }
}
