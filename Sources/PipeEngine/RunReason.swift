/// Why a stage runs (or would run), in the manner of llbuild's RunReason and DVC's status.
public enum RunReason: Equatable, Sendable, CustomStringConvertible {
    /// No earlier run of this stage is known.
    case neverRun
    /// The key changed; these are the differences from the last run.
    case changed([KeyChange])
    /// `--force`.
    case forced
    /// The same key ran before, but its result is no longer in the cache.
    case missingOutput
    /// The cached result failed verification and is recomputed.
    case corruptOutput(String)
    /// Upstream stages must run first; the key is known only after them. `changes` are the
    /// differences that are already visible.
    case waitingOn([String], changes: [KeyChange])

    public var description: String {
        switch self {
        case .neverRun: return "never run"
        case .changed(let changes): return changes.map(\.description).joined(separator: "; ")
        case .forced: return "forced"
        case .missingOutput: return "output missing from the cache (removed by gc?)"
        case .corruptOutput(let detail): return "cached output corrupted (\(detail))"
        case .waitingOn(let upstream, let changes):
            let first = "upstream " + upstream.map { "`\($0)`" }.joined(separator: ", ") + " will run first"
            return ([first] + changes.map(\.description)).joined(separator: "; ")
        }
    }

    /// The reason a stage with `material` misses the cache, given the material of its last run.
    public static func explain(previous: KeyValue?, current: KeyValue) -> RunReason {
        guard let previous else { return .neverRun }
        let changes = KeyChange.diff(previous, current)
        return changes.isEmpty ? .missingOutput : .changed(changes)
    }
}

/// The material a stage had when it last ran, by stage name; nil when unknown.
public typealias PreviousMaterial = @Sendable (String) -> KeyValue?
