/// One growing allocation handed out in pieces, reset between passes (llm.c's single activation
/// buffer). A pass first runs its layout in counting mode to learn the size it needs.
final class FloatArena {
    private(set) var base: UnsafeMutablePointer<Float>
    private var capacity: Int
    private var used = 0
    private var counting = false

    init() {
        capacity = 1
        base = .allocate(capacity: 1)
    }

    deinit { base.deallocate() }

    /// Runs `layout` once to count, makes room, and runs it again for real; returns its result.
    func arrange<T>(_ layout: (FloatArena) -> T) -> T {
        counting = true
        used = 0
        _ = layout(self)
        counting = false
        if used > capacity {
            base.deallocate()
            capacity = used
            base = .allocate(capacity: used)
        }
        used = 0
        return layout(self)
    }

    /// The next `count` floats, zero-filled when `zeroed`.
    func take(_ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<Float> {
        defer { used += count }
        if counting { return base }
        let pointer = base + used
        if zeroed { pointer.update(repeating: 0, count: count) }
        return pointer
    }
}
