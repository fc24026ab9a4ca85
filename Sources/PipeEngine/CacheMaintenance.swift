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
        /// Objects that failed verification, with why.
        public var corruptObjects: [Digest: String] = [:]
        /// Records that cannot be used (unreadable, or reaching a missing or corrupted object, or
        /// naming a tree that is refused), with the stage (if known) and why.
        public var damagedRecords: [Digest: (stage: String?, detail: String)] = [:]
    }

    /// Hashes every object and checks that every record's output tree and log are complete.
    public static func verify(_ cache: Cache) -> VerifyReport {
        var report = VerifyReport()
        for digest in (try? cache.objects.allObjects()) ?? [] {
            report.objects += 1
            do {
                _ = try cache.objects.read(digest)
            } catch {
                report.corruptObjects[digest] = "\(error)"
                report.problems.append("object \(digest.short): \(error)")
            }
        }
        for key in (try? cache.actions.allKeys()) ?? [] {
            report.records += 1
            var stage: String?
            var damage: [String] = []
            do {
                guard let record = try cache.actions.record(for: key) else { continue }
                stage = record.stage
                let walk = try Tree.walk(record.output, in: cache.objects)
                for (path, entry) in walk.files where !cache.objects.contains(entry.digest) || report.corruptObjects[entry.digest] != nil {
                    damage.append("file \(path) is missing or corrupted")
                }
                if let log = record.log, !cache.objects.contains(log) || report.corruptObjects[log] != nil {
                    damage.append("log \(log.short) is missing or corrupted")
                }
            } catch {
                damage.append("\(error)")
            }
            guard !damage.isEmpty else { continue }
            report.damagedRecords[key] = (stage, damage.joined(separator: "; "))
            for line in damage {
                report.problems.append(stage.map { "stage `\($0)` (key \(key.short)): \(line)" } ?? "record \(key.short): \(line)")
            }
        }
        return report
    }

    /// What `repair` removed, one line each.
    public struct RepairReport: Sendable {
        public var verified: VerifyReport
        public var removed: [String] = []
    }

    /// `pipe cache verify --repair`: verifies, then removes every corrupted object and every record
    /// that reaches a missing or corrupted object (directly or through its tree), or is unreadable,
    /// so that the next run recomputes those stages. Nothing else is touched.
    public static func repair(_ cache: Cache) throws -> RepairReport {
        let verified = verify(cache)
        var report = RepairReport(verified: verified)
        for (digest, detail) in verified.corruptObjects.sorted(by: { $0.key < $1.key }) {
            try cache.objects.remove(digest)
            report.removed.append("object \(digest.short) (\(detail))")
        }
        for (key, damage) in verified.damagedRecords.sorted(by: { $0.key < $1.key }) {
            try cache.actions.remove(key)
            let stage = damage.stage.map { "stage `\($0)`, " } ?? ""
            report.removed.append("record \(key.short) (\(stage)\(damage.detail))")
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
