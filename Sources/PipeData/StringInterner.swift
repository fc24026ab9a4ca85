import Foundation

/// Hands out one shared `String` for equal byte sequences. A QA file repeats the same questions,
/// options, modalities and image paths across its records: sharing them saves an allocation per
/// field when reading and a release-and-free per field when the records go away, and makes equal
/// fields compare by identity.
struct StringInterner {
    /// Strings this short live inside the `String` value itself; sharing them saves nothing.
    static let inlineLength = 15

    /// Open addressing over `entries` (indices + 1; 0 is empty), a power of two in size.
    private var table = [Int32](repeating: 0, count: 1 << 12)
    private var entries: [(hash: UInt64, start: Int, count: Int, string: String)] = []
    /// The bytes of every entry, back to back.
    private var arena: [UInt8] = []
    /// Past this many distinct strings, new ones are built but no longer remembered.
    let capacity: Int

    init(capacity: Int = 1 << 18) { self.capacity = capacity }

    /// The string for UTF-8 `bytes` (already validated), shared with earlier equal ones.
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.count > Self.inlineLength else { return String(decoding: bytes, as: UTF8.self) }
        let hash = Self.hash(bytes)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while table[slot] != 0 {
            let entry = Int(table[slot]) - 1
            if entries[entry].hash == hash, entries[entry].count == bytes.count,
               arena.withUnsafeBufferPointer({ memcmp($0.baseAddress! + entries[entry].start, bytes.baseAddress!, bytes.count) == 0 }) {
                return entries[entry].string
            }
            slot = (slot + 1) & mask
        }
        let string = String(decoding: bytes, as: UTF8.self)
        guard entries.count < capacity else { return string }
        entries.append((hash, arena.count, bytes.count, string))
        arena.append(contentsOf: bytes)
        table[slot] = Int32(entries.count)
        if entries.count * 2 > table.count { grow() }
        return string
    }

    /// A hash of `bytes` (more than 8 of them), eight bytes at a time: multiply and fold, then a
    /// final mix so the low bits that pick a slot depend on every byte.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let base = UnsafeRawPointer(bytes.baseAddress!)
        var hash = UInt64(bytes.count) &* 0x9e37_79b9_7f4a_7c15
        var i = 0
        while i + 8 <= bytes.count {
            hash = (hash ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xbf58_476d_1ce4_e5b9
            hash ^= hash >> 31
            i += 8
        }
        // The last eight bytes (overlapping the loop's when the count is not a multiple of 8).
        if i < bytes.count {
            hash = (hash ^ base.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self)) &* 0x94d0_49bb_1331_11eb
        }
        hash ^= hash >> 29
        hash = hash &* 0xbf58_476d_1ce4_e5b9
        return hash ^ (hash >> 32)
    }

    /// Doubles the table, placing every entry again.
    private mutating func grow() {
        table = [Int32](repeating: 0, count: table.count * 2)
        let mask = table.count - 1
        for (index, entry) in entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.hash) & mask
            while table[slot] != 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(index + 1)
        }
    }
}
