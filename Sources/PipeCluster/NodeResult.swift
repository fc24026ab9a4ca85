import Foundation
import PipeEngine

/// What a cluster node reports about the one stage it executed: written by `pipe exec-stage` to a
/// file the submitting `pipe run` reads when the job ends.
public struct NodeResult: Codable, Sendable, Equatable {
    public var job: String
    /// A `StageResult.Status` raw value.
    public var status: String
    public var key: String?
    public var output: String?
    public var log: String?
    public var reason: String?
    public var started: Date
    public var seconds: Double
    public var host: String
    public var message: String?
    public var logTail: [String]
    /// The node's machine and environment (what the ledger records per run, for this stage).
    public var environment: [String: String]

    public init(_ result: StageResult, host: String, environment: [String: String]) {
        self.environment = environment
        job = result.job
        status = result.status.rawValue
        key = result.key?.hex
        output = result.output?.hex
        log = result.log?.hex
        reason = result.reason?.description
        started = result.started
        seconds = result.seconds
        self.host = host
        message = result.message
        logTail = result.logTail
    }

    /// A stage that could not even be set up (its pipeline did not build, say): failed with `message`.
    public init(job: String, failure message: String, host: String, environment: [String: String]) {
        self.job = job
        status = StageResult.Status.failed.rawValue
        started = Date()
        seconds = 0
        self.host = host
        self.message = message
        logTail = []
        self.environment = environment
    }

    /// Writes the result atomically (a reader sees the whole file or none).
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .secondsSince1970
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        try encoder.encode(self).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// The result at `path`, or nil when there is none (yet) or it does not parse.
    public static func read(from path: String) -> NodeResult? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(NodeResult.self, from: data)
    }
}
