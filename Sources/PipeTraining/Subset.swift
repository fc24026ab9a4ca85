import PipeRandom

/// The records a limited evaluation, validation or calibration scores.
public enum Subset {
    /// At most `limit` of `items` (all when 0), drawn without replacement by a fixed seed and kept in
    /// their order, so a limited evaluation covers every modality and question type (an even stride
    /// would not: with five questions per image, a stride that is a multiple of five picks one type).
    public static func spread<T>(_ items: [T], limit: Int) -> [T] {
        guard limit > 0, items.count > limit else { return items }
        var random = SeededRandom(seed: 0x5e1e_c7 ^ UInt64(items.count))
        var indices = Array(items.indices)
        for i in 0..<limit { indices.swapAt(i, i + Int(random.next() % UInt64(items.count - i))) }
        return indices[..<limit].sorted().map { items[$0] }
    }
}
