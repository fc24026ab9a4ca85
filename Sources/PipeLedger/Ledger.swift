import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The run ledger: every `pipe run` and what each of its stages did, in SQLite (`ledger.sqlite` in
/// the cache directory). Safe for several processes at once (WAL, busy timeout).
public final class Ledger: @unchecked Sendable {
    let queue: DatabaseQueue

    /// The ledger file.
    public let path: String

    /// How long to wait for another process's write lock: `PIPE_LEDGER_TIMEOUT` seconds, else 30.
    static var busySeconds: Int {
        ProcessInfo.processInfo.environment["PIPE_LEDGER_TIMEOUT"].flatMap { Int($0) }.map { max($0, 0) } ?? 30
    }

    /// Opens (creating and migrating if needed) the ledger at `path`. Problems are `LedgerError`s.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(Self.busySeconds))
        configuration.journalMode = .wal
        // Two processes opening a new ledger at once would both migrate it: take a file lock first.
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer {
            if lock >= 0 {
                flock(lock, LOCK_UN)
                close(lock)
            }
        }
        queue = try Self.translating(path) { try DatabaseQueue(path: path, configuration: configuration) }
        // No fsync (set after GRDB's own WAL set-up, which asks for NORMAL): a crash of pipe cannot
        // corrupt a WAL database; a power cut may lose the newest runs' rows, never the cache's
        // consistency, and syncing cost more than a whole cached run.
        try Self.translating(path) {
            try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = OFF") }
            try Self.migrator.migrate(queue)
        }
    }

    /// Opens an existing ledger only to read it, so that a cache the user cannot write can still be
    /// listed. Nil when the ledger needs a migration first (an older pipe wrote it): open it with
    /// `init(path:)`. A ledger whose directory cannot be written is read as it stands (immutable).
    public init?(readingAt path: String) throws {
        self.path = path
        let (queue, migrated) = try Self.openForReading(path)
        guard migrated else { return nil }
        self.queue = queue
    }

    /// A read-only connection to the ledger at `path`, and whether its migrations are all applied.
    private static func openForReading(_ path: String) throws -> (DatabaseQueue, Bool) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busySeconds))
        configuration.readonly = true
        func attempt(_ name: String) throws -> (DatabaseQueue, Bool) {
            try translating(path) {
                let queue = try DatabaseQueue(path: name, configuration: configuration)
                return (queue, try queue.read { try migrator.hasCompletedMigrations($0) })
            }
        }
        do {
            return try attempt(path)
        } catch let error as LedgerError where error.problem == .notWritable {
            // WAL needs a `-shm` file beside the ledger; where none can be made, read the file as it stands.
            return try attempt(immutableURI(path))
        }
    }

    /// An SQLite URI that opens `path` as a file nobody changes.
    static func immutableURI(_ path: String) -> String {
        var encoded: [UInt8] = []
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"): encoded += Array(String(format: "%%%02X", byte).utf8)
            default: encoded.append(byte)
            }
        }
        return "file:" + String(decoding: encoded, as: UTF8.self) + "?immutable=1"
    }

    /// Runs `body`, turning SQLite's errors into `LedgerError`s.
    static func translating<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw LedgerError(error, path: path, busySeconds: busySeconds)
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.translating(path) { try queue.read(body) }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.translating(path) { try queue.write(body) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("recipeName", .text).notNull()
                t.column("recipeFile", .text).notNull()
                t.column("recipeDigest", .text).notNull()
                t.column("params", .text).notNull()
                t.column("overrides", .text).notNull()
                t.column("commandLine", .text).notNull()
                t.column("tag", .text)
                t.column("status", .text).notNull()
                t.column("started", .datetime).notNull()
                t.column("ended", .datetime)
                t.column("host", .text).notNull()
                t.column("pipeVersion", .text).notNull()
                t.column("machine", .text).notNull()
            }
            try db.create(index: "run_tag", on: "run", columns: ["tag"])
            try db.create(table: "stageRun") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("recipeName", .text).notNull()
                t.column("stage", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("status", .text).notNull()
                t.column("reason", .text)
                t.column("key", .text)
                t.column("inputs", .text).notNull()
                t.column("output", .text)
                t.column("log", .text)
                t.column("seconds", .double).notNull()
                t.column("started", .datetime).notNull()
                t.column("host", .text).notNull()
                t.column("message", .text)
            }
            try db.create(index: "stageRun_run", on: "stageRun", columns: ["runId"])
            // The key each stage of each recipe last had: what `pipe status` diffs against.
            try db.create(table: "stageState", options: [.withoutRowID]) { t in
                t.column("recipeName", .text).notNull()
                t.column("stage", .text).notNull()
                t.column("key", .text).notNull()
                t.primaryKey(["recipeName", "stage"])
            }
        }
        migrator.registerMigration("v2") { db in
            // What else about the process a result can depend on (JSON): compiler, CPU features, BLAS...
            try db.alter(table: "run") { t in t.add(column: "environment", .text).notNull().defaults(to: "{}") }
        }
        migrator.registerMigration("v3") { db in
            // A stage executed elsewhere (a cluster node) records that machine's environment (JSON);
            // a run of an experiment records how to rebuild its grid (JSON).
            try db.alter(table: "stageRun") { t in t.add(column: "environment", .text).notNull().defaults(to: "") }
            try db.alter(table: "run") { t in t.add(column: "source", .text).notNull().defaults(to: "") }
        }
        return migrator
    }

    /// Records the start of a run and returns its id.
    public func begin(_ run: RunEntry) throws -> Int64 {
        try write { db in
            var row = run
            try row.insert(db)
            return row.id!
        }
    }

    /// Records stage results of a run.
    public func record(_ stages: [StageEntry]) throws {
        guard !stages.isEmpty else { return }
        try write { db in
            let statement = try db.makeStatement(sql: """
                INSERT INTO stageRun (runId, recipeName, stage, kind, status, reason, key, inputs, output, log,
                                      seconds, started, host, message, environment)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            // Written only when a key changes, so a fully cached run touches few pages.
            let state = try db.makeStatement(sql: """
                INSERT INTO stageState (recipeName, stage, key) VALUES (?, ?, ?)
                ON CONFLICT (recipeName, stage) DO UPDATE SET key = excluded.key WHERE key != excluded.key
                """)
            for s in stages {
                if let key = s.key, s.status == "ran" || s.status == "cached" {
                    try state.execute(arguments: [s.recipeName, s.stage, key])
                }
                try statement.execute(arguments: [s.runId, s.recipeName, s.stage, s.kind, s.status, s.reason, s.key,
                                                  s.inputs, s.output, s.log, s.seconds,
                                                  // A Unix timestamp: formatting a date as text costs more than the insert.
                                                  s.started.timeIntervalSince1970, s.host, s.message, s.environment])
            }
        }
    }

    /// Records the end of a run.
    public func finish(run id: Int64, status: String, ended: Date = Date()) throws {
        try write { db in
            try db.execute(sql: "UPDATE run SET status = ?, ended = ? WHERE id = ?", arguments: [status, ended, id])
        }
    }

    /// Removes a run that never started anything (its stages' rows too), as if never begun.
    public func discard(run id: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM stageRun WHERE runId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM run WHERE id = ?", arguments: [id])
        }
    }

    /// The newest runs first.
    public func runs(limit: Int = 50) throws -> [RunEntry] {
        try read { db in try RunEntry.order(Column("id").desc).limit(limit).fetchAll(db) }
    }

    /// A run by id, `latest`, or tag (the newest run with that tag).
    public func run(_ reference: String) throws -> RunEntry? {
        try read { db in
            if reference == "latest" { return try RunEntry.order(Column("id").desc).fetchOne(db) }
            if let id = Int64(reference) { return try RunEntry.fetchOne(db, key: id) }
            return try RunEntry.filter(Column("tag") == reference).order(Column("id").desc).fetchOne(db)
        }
    }

    /// The stages of a run, in the order they finished.
    public func stages(ofRun id: Int64) throws -> [StageEntry] {
        try read { db in try StageEntry.filter(Column("runId") == id).order(Column("id")).fetchAll(db) }
    }

    /// The key a stage of a recipe had when it last ran or was found cached.
    public func lastKey(recipe: String, stage: String) throws -> String? {
        try read { db in
            try String.fetchOne(db, sql: "SELECT key FROM stageState WHERE recipeName = ? AND stage = ?",
                                arguments: [recipe, stage])
        }
    }

    /// The keys, and the recipe (and experiment) text digests, of the newest `keepLast` runs, the tagged runs and the runs
    /// with the given ids or tags: what `pipe cache gc` keeps.
    public func kept(keepLast: Int, keep references: [String]) throws -> (keys: Set<String>, recipes: Set<String>) {
        try read { db in
            var runIds = try Int64.fetchAll(db, sql: "SELECT id FROM run ORDER BY id DESC LIMIT ?", arguments: [keepLast])
            runIds += try Int64.fetchAll(db, sql: "SELECT id FROM run WHERE tag IS NOT NULL")
            for reference in references {
                if let id = Int64(reference) { runIds.append(id) }
                runIds += try Int64.fetchAll(db, sql: "SELECT id FROM run WHERE tag = ?", arguments: [reference])
            }
            guard !runIds.isEmpty else { return ([], []) }
            let list = Set(runIds).map(String.init).joined(separator: ",")
            return (Set(try String.fetchAll(db, sql: "SELECT DISTINCT key FROM stageRun WHERE key IS NOT NULL AND runId IN (\(list))")),
                    Set(try String.fetchAll(db, sql: "SELECT DISTINCT recipeDigest FROM run WHERE id IN (\(list))"))
                        // An ablation run's experiment text too.
                        .union(try String.fetchAll(db, sql: "SELECT DISTINCT json_extract(source, '$.digest') FROM run WHERE id IN (\(list)) AND source != ''")))
        }
    }
}
