import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checking and trimming a cache: `pipe cache verify`, `gc` and `ls`.
public enum CacheMaintenance {
    public struct VerifyReport: Sendable {
        public var objects = 0
        public var records = 0
        /// One line per problem; empty when the cache is consistent.
        public var problems: [String] = []
    }

    /// Hashes every object and checks that every record's output tree and log are complete.
    public static func verify(_ cache: Cache) -> VerifyReport {
        var report = VerifyReport()
        var corrupt = Set<Digest>()
        for digest in (try? cache.objects.allObjects()) ?? [] {
            report.objects += 1
            do {
                _ = try cache.objects.read(digest)
            } catch {
                corrupt.insert(digest)
                report.problems.append("object \(digest.short): \(error)")
            }
        }
        for key in (try? cache.actions.allKeys()) ?? [] {
            report.records += 1
            do {
                guard let record = try cache.actions.record(for: key) else { continue }
                let walk = try Tree.walk(record.output, in: cache.objects)
                for (path, entry) in walk.files where !cache.objects.contains(entry.digest) || corrupt.contains(entry.digest) {
                    report.problems.append("stage `\(record.stage)` (key \(key.short)): file \(path) is missing or corrupted")
                }
                if let log = record.log, !cache.objects.contains(log) {
                    report.problems.append("stage `\(record.stage)` (key \(key.short)): log \(log.short) is missing")
                }
            } catch {
                report.problems.append("record \(key.short): \(error)")
            }
        }
        return report
    }

    public struct CollectReport: Sendable {
        public var recordsRemoved = 0
        public var objectsRemoved = 0
        public var bytesFreed = 0
        public var recordsKept = 0
        public var objectsKept = 0
        public var locksRemoved = 0
    }

    /// Removes every record not in `keep`, then every object no kept record reaches (and not in
    /// `keepObjects`, e.g. the recipe texts of kept runs), and leftovers of interrupted runs in
    /// `tmp/` and `locks/`.
    public static func collect(_ cache: Cache, keep: Set<Digest>, keepObjects: Set<Digest> = []) throws -> CollectReport {
        var report = CollectReport()
        var reachable = keepObjects
        for key in try cache.actions.allKeys() {
            let record = try? cache.actions.record(for: key)
            guard let record, keep.contains(key) else {
                try cache.actions.remove(key)
                report.recordsRemoved += 1
                continue
            }
            report.recordsKept += 1
            if let log = record.log { reachable.insert(log) }
            if let walk = try? Tree.walk(record.output, in: cache.objects) {
                reachable.formUnion(walk.listings)
                reachable.formUnion(walk.files.map(\.entry.digest))
            }
        }
        for digest in try cache.objects.allObjects() {
            if reachable.contains(digest) {
                report.objectsKept += 1
            } else {
                report.bytesFreed += cache.objects.size(of: digest) ?? 0
                try cache.objects.remove(digest)
                report.objectsRemoved += 1
            }
        }
        removeLeftovers(cache)
        report.locksRemoved = (cache.locks as? FileKeyLocks)?.removeUnheld() ?? 0
        return report
    }

    /// Deletes workspaces and temporary files of processes that are gone (names start with the pid).
    public static func removeLeftovers(_ cache: Cache) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: cache.temporaryDirectory)) ?? [] {
            guard let pid = Int32(name.prefix { $0.isNumber }), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            FileSystem.removeTree(cache.temporaryDirectory + "/" + name)
        }
    }
}
