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
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
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

    /// Doubles the table, placing every entry again.
    private mutating func grow() {
        table = [Int32](repeating: 0, count: table.count * 2)
        let mask = table.count - 1
        for (index, entry) in entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.hash ^ (entry.hash >> 29)) & mask
            while table[slot] != 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(index + 1)
        }
    }
}
