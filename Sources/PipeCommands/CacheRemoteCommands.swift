import ArgumentParser
import Foundation
import PipeEngine
import PipeRemote

/// `pipe cache push|pull|status|key`: the local cache against the configured remote, and the key
/// pushed records are signed with.
extension CacheCommand {
    /// The keys a command acts on: a run's stages (from the ledger), or every local result.
    static func keys(of reference: String?, all: Bool, project: Project, local: Cache) throws -> [Digest] {
        switch (reference, all) {
        case (nil, true):
            return try local.actions.allKeys().sorted()
        case (_, false):
            guard let ledger = try project.existingLedger(), let run = try ledger.run(reference ?? "latest") else {
                if reference == nil {
                    throw UsageError("no run recorded in \(project.cacheRoot) yet", hint: "`pipe run RECIPE` first, or give --all for every local result")
                }
                throw UsageError("no run `\(reference ?? "")` in \(project.cacheRoot)", hint: "`pipe runs` lists the recorded runs")
            }
            var seen = Set<Digest>()
            return try ledger.stages(ofRun: run.id!).compactMap { $0.key.flatMap(Digest.init(hex:)) }.filter { seen.insert($0).inserted }
        default:
            throw UsageError("give a run (an id, a tag or `latest`) or --all, not both")
        }
    }

    /// What happened to one key in a push or pull.
    enum Transfer: Hashable { case moved, skipped, unavailable, untrusted }

    /// Runs `transfer` on each key and counts the outcomes; a failure is reported and counted
    /// (`failed`), and an unreachable or misconfigured remote (an untrusted certificate: it fails
    /// every key the same way) stops the loop.
    static func transferEach(_ keys: [Digest], verb: String, _ transfer: (Digest) throws -> Transfer) -> (counts: [Transfer: Int], failed: Int) {
        var counts: [Transfer: Int] = [:], failed = 0
        for key in keys {
            do {
                counts[try transfer(key), default: 0] += 1
            } catch {
                failed += 1
                Terminal.error("cannot \(verb) \(key.short): \(error)")
                if let remoteError = error as? RemoteError, remoteError.isTransient || remoteError.isConfiguration { break }
            }
        }
        return (counts, failed)
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "push", abstract: "Send a run's results (or all) to the remote.")
        @OptionGroup var options: CacheOptions
        @Argument(help: "A run id, a tag, or `latest` (the default).") var reference: String?
        @Flag(help: "Every result in the local cache.") var all = false

        func run() throws {
            let project = options.project
            let remote = try project.openRemote()
            let keys = try CacheCommand.keys(of: reference, all: all, project: project, local: remote.local)
            if let keyFile = remote.signingKey, !keys.isEmpty {
                do {
                    _ = try keyFile.loadOrCreate()
                } catch {
                    throw UsageError(wrapping: error)
                }
            }
            let (outcomes, failed) = CacheCommand.transferEach(keys, verb: "push") { key in
                guard try remote.local.actions.record(for: key) != nil else { return .unavailable }
                return try remote.push(key) == .alreadyThere ? .skipped : .moved
            }
            let counts = remote.transferred, missing = outcomes[.unavailable] ?? 0
            print("pushed \(outcomes[.moved] ?? 0) results (\(counts.objectsPushed) objects, \(List.bytes(counts.bytesPushed))) to \(remote.backend.displayName); "
                  + "\(outcomes[.skipped] ?? 0) were there already" + (missing > 0 ? "; \(missing) not in the local cache" : ""))
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pull", abstract: "Fetch a run's results (or all the remote has) into the local cache.")
        @OptionGroup var options: CacheOptions
        @Argument(help: "A run id, a tag, or `latest` (the default).") var reference: String?
        @Flag(help: "Every result the remote has.") var all = false

        func run() throws {
            let project = options.project
            let remote = try project.openRemote()
            let keys: [Digest]
            if all && reference == nil {
                guard let listed = try remote.remoteKeys() else {
                    throw UsageError("\(remote.backend.displayName) cannot list its results", hint: "nginx lists with `autoindex on; autoindex_format json;`; or pull a run")
                }
                keys = listed.sorted()
            } else {
                keys = try CacheCommand.keys(of: reference, all: all, project: project, local: remote.local)
            }
            let (outcomes, failed) = CacheCommand.transferEach(keys, verb: "pull") { key in
                if let hit = try? remote.local.actions.hit(for: key), remote.local.objects.contains(hit.output) { return .skipped }
                do {
                    return try remote.pull(key) != nil ? .moved : .unavailable
                } catch RemoteError.untrusted(let distrust) {
                    if remote.isFirstNotice(distrust) { Terminal.error("warning: \(distrust)") }
                    return .untrusted
                }
            }
            let counts = remote.transferred, absent = outcomes[.unavailable] ?? 0, untrusted = outcomes[.untrusted] ?? 0
            print("pulled \(outcomes[.moved] ?? 0) results (\(counts.objectsFetched) objects, \(List.bytes(counts.bytesFetched))) from \(remote.backend.displayName); "
                  + "\(outcomes[.skipped] ?? 0) were local already" + (absent > 0 ? "; \(absent) not on the remote" : "")
                  + (untrusted > 0 ? "; \(untrusted) ignored, not signed by a trusted key" : ""))
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Which results are only local, only on the remote, or both.")
        @OptionGroup var options: CacheOptions

        func run() throws {
            let remote = try options.project.openRemote()
            let local = Set(try remote.local.actions.allKeys())
            let listed: [Digest]?
            do {
                listed = try remote.remoteKeys()
            } catch {
                throw UsageError("cannot reach \(remote.backend.displayName)", cause: error)
            }
            var rows: [[String]] = []
            let onRemote: Set<Digest>
            if let listed {
                onRemote = Set(listed)
            } else {
                // A server that cannot list: ask about each local result.
                onRemote = Set(try local.filter { try remote.backend.exists("actions/\($0.hex.prefix(2))/\($0.hex).json") })
            }
            for key in local.union(onRemote).sorted() {
                let place = local.contains(key) ? (onRemote.contains(key) ? "both" : "local only") : "remote only"
                let stage = (try? remote.local.actions.record(for: key))?.stage ?? ""
                rows.append([key.short, stage, place])
            }
            print(Terminal.table(["key", "stage", "where"], rows))
            let localOnly = local.subtracting(onRemote).count, remoteOnly = listed == nil ? nil : onRemote.subtracting(local).count
            print("\(remote.backend.displayName): \(localOnly) local only, " + (remoteOnly.map { "\($0) remote only" } ?? "remote-only results unknown (the server cannot list)")
                  + ", \(local.intersection(onRemote).count) in both")
        }
    }

    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "key",
            abstract: "Print your public signing key, for colleagues' pipe.yaml `trusted-keys`.",
            discussion: "Every record `pipe` pushes is signed with your key, made on first use in $PIPE_SIGNING_KEY, "
                + "$XDG_CONFIG_HOME/pipe/signing-key or ~/.config/pipe/signing-key (mode 0600), named $PIPE_SIGNING_KEY_NAME or user@host.")
        @Flag(help: "Print the key file's path instead.") var path = false

        func run() throws {
            let keyFile = SigningKeyFile()
            if path {
                print(keyFile.path)
                return
            }
            do {
                print(try keyFile.loadOrCreate().publicKey)
            } catch {
                throw UsageError(wrapping: error)
            }
        }
    }
}
