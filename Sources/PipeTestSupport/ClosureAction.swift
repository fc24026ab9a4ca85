import Foundation
import PipeEngine

/// A job action made of a closure, counting its executions: the engine tests' stage.
public final class ClosureAction: JobAction, @unchecked Sendable {
    private let body: @Sendable (JobContext) throws -> Void
    private let lock = NSLock()
    private var count = 0

    public init(_ body: @escaping @Sendable (JobContext) throws -> Void) { self.body = body }

    /// How many times the action ran.
    public var executions: Int { lock.withLock { count } }

    public func run(_ context: JobContext) throws {
        lock.withLock { count += 1 }
        try body(context)
    }

    /// An action that writes `text` to `name` in its output.
    public static func writing(_ text: String, to name: String = "out.txt") -> ClosureAction {
        ClosureAction { context in
            try text.write(toFile: context.outputDirectory + "/" + name, atomically: false, encoding: .utf8)
        }
    }
}
