import Foundation
import GRDB

/// One `pipe run` in the ledger.
public struct RunEntry: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "run"
    public var id: Int64?
    public var recipeName: String
    public var recipeFile: String
    /// SHA-256 of the recipe file's bytes.
    public var recipeDigest: String
    /// The resolved `params` as JSON.
    public var params: String
    /// The `--set` overrides as a JSON list.
    public var overrides: String
    public var commandLine: String
    /// A name that keeps the run's artifacts from `pipe cache gc`.
    public var tag: String?
    /// running, succeeded, failed, interrupted.
    public var status: String
    public var started: Date
    public var ended: Date?
    public var host: String
    public var pipeVersion: String
    /// OS, CPU and core count.
    public var machine: String
    /// The rest of what results can depend on, as a JSON object of strings: the Swift compiler,
    /// CPU features, OpenBLAS's build, core type and threads, the training threads.
    public var environment: String
    /// For `pipe ablate`: the experiment the run's grid was built from, as JSON (file, digest,
    /// axes, seeds, sets); empty for `pipe run`.
    public var source: String = ""

    public init(recipeName: String, recipeFile: String, recipeDigest: String, params: String, overrides: String,
                commandLine: String, tag: String?, status: String, started: Date, host: String,
                pipeVersion: String, machine: String, environment: String = "{}") {
        self.recipeName = recipeName
        self.recipeFile = recipeFile
        self.recipeDigest = recipeDigest
        self.params = params
        self.overrides = overrides
        self.commandLine = commandLine
        self.tag = tag
        self.status = status
        self.started = started
        self.host = host
        self.pipeVersion = pipeVersion
        self.machine = machine
        self.environment = environment
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// What one stage did in one run.
public struct StageEntry: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "stageRun"
    public var id: Int64?
    public var runId: Int64
    public var recipeName: String
    public var stage: String
    public var kind: String
    /// cached, ran, failed, skipped, interrupted.
    public var status: String
    /// Why it ran.
    public var reason: String?
    public var key: String?
    /// Role -> input artifact digest, as JSON.
    public var inputs: String
    public var output: String?
    public var log: String?
    public var seconds: Double
    public var started: Date
    public var host: String
    public var message: String?
    /// The machine that executed it, as JSON like the run's `machine` and `environment`, when that
    /// was not the run's own process (a cluster node); empty otherwise.
    public var environment: String

    public init(runId: Int64, recipeName: String, stage: String, kind: String, status: String, reason: String?,
                key: String?, inputs: String, output: String?, log: String?, seconds: Double, started: Date,
                host: String, message: String?, environment: String = "") {
        self.environment = environment
        self.runId = runId
        self.recipeName = recipeName
        self.stage = stage
        self.kind = kind
        self.status = status
        self.reason = reason
        self.key = key
        self.inputs = inputs
        self.output = output
        self.log = log
        self.seconds = seconds
        self.started = started
        self.host = host
        self.message = message
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
