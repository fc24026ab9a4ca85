import Foundation

/// Fixed result slots that worker threads fill, each slot by one thread, read in order afterwards
/// (so parallel work gives the same output as serial work). Used by the synthetic-data renderer
/// and the evaluators.
public final class ResultSlots<T>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()

    public init(count: Int) { storage = Array(repeating: nil, count: count) }

    public subscript(index: Int) -> T? {
        get { lock.lock(); defer { lock.unlock() }; return storage[index] }
        set { lock.lock(); storage[index] = newValue; lock.unlock() }
    }

    public var values: [T?] { lock.lock(); defer { lock.unlock() }; return storage }
}
