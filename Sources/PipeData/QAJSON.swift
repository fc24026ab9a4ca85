import Foundation

/// A small, fast reader for QA files: a JSON list of objects, of which only the fields named in
/// `keys` are kept (strings, numbers, booleans, null; a nested list or object as `.nested`). Other
/// fields are checked and skipped without building strings for them. Much faster than
/// `JSONSerialization` on a 50,000-record file.
///
/// Lists and objects nest at most `maxDepth` levels (the file's list is the first); deeper text is
/// refused, so that no file can exhaust the stack.
struct QAJSON {
    /// How deeply lists and objects may nest. OmniMedVQA files are a list of flat records (depth 2).
    static let maxDepth = 64

    /// A field's value as a record needs it.
    enum Field: Equatable {
        case string(String)
        /// The number's text as written (`12`, `1.5e3`).
        case number(String)
        case bool(Bool)
        case null
        /// A list or an object.
        case nested
    }

    /// Valid only inside `forEachObject(in:file:keys:interning:_:)`.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var at = 0
    private let keys: [[UInt8]]
    /// Per key: its length and its first (up to) 8 bytes as a little-endian word, to match names fast.
    private let keyLengths: [Int], keyPrefixes: [UInt64]
    /// Which key came next in the last object, after each field (0: at the start; k + 1: after key
    /// k; the last entry: after an unknown field). A file lists its records' fields in one order, so
    /// this guess is nearly always right and spares trying every key.
    private var following: [Int]
    private var lastField = 0
    /// Per key: whether equal values share one string (fields repeated across records).
    private let interned: [Bool]
    private var interner = StringInterner()
    /// How many lists and objects enclose the current position.
    private var depth = 0

    /// Parses `data`; each object becomes one slot per key of `keys` (nil where absent). Throws a
    /// `DatasetError` naming `file` and the line of the first error.
    static func objects(in data: Data, file: String, keys: [String]) throws -> [[Field?]] {
        var out: [[Field?]] = []
        try forEachObject(in: data, file: file, keys: keys) { fields, _ in out.append(fields) }
        return out
    }

    /// Parses `data`, handing `body` each object as one slot per key of `keys` (nil where absent) and
    /// its position in the list, without keeping the objects. String values of the keys whose
    /// indices are in `interning` share storage with equal earlier values. Parse errors are thrown
    /// as a `DatasetError` naming `file` and the line; `body`'s errors pass through.
    static func forEachObject(in data: Data, file: String, keys: [String], interning: Set<Int> = [],
                              _ body: ([Field?], Int) throws -> Void) throws {
        let keyBytes = keys.map { Array($0.utf8) }
        try data.withUnsafeBytes { raw in
            var reader = QAJSON(bytes: raw.bindMemory(to: UInt8.self), keys: keyBytes,
                                interned: keys.indices.map(interning.contains))
            do {
                try reader.list(body)
            } catch let error as Problem {
                switch error.kind {
                case .shape: throw DatasetError("\(file): \(error.message)")
                case .syntax: throw DatasetError("\(file): not valid JSON: \(error.message) at line \(reader.line(of: error.offset))")
                case .limit:
                    throw DatasetError("\(file): \(error.message) at line \(reader.line(of: error.offset)), byte \(error.offset)"
                                       + "\n  hint: a QA file is a JSON list of flat records")
                }
            }
        }
    }

    struct Problem: Error {
        enum Kind {
            /// Broken JSON.
            case syntax
            /// Valid JSON of the wrong shape.
            case shape
            /// JSON beyond a limit of this reader (nesting).
            case limit
        }

        var message: String
        var offset: Int
        var kind = Kind.syntax
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, keys: [[UInt8]], interned: [Bool]) {
        var start = 0
        if bytes.starts(with: [0xef, 0xbb, 0xbf]) { start = 3 }  // a UTF-8 byte-order mark
        self.bytes = bytes
        self.at = start
        self.keys = keys
        self.keyLengths = keys.map(\.count)
        self.following = [Int](repeating: -1, count: keys.count + 2)
        self.keyPrefixes = keys.map { $0.withUnsafeBufferPointer { Self.prefix($0.baseAddress, count: $0.count) } }
        self.interned = interned
    }

    private func line(of offset: Int) -> Int { bytes[..<min(offset, bytes.count)].reduce(1) { $0 + ($1 == 0x0a ? 1 : 0) } }

    private func fail(_ message: String) -> Problem { Problem(message: message, offset: at) }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0a || bytes[at] == 0x0d || bytes[at] == 0x09 { at += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { throw fail("expected \(what)") }
        at += 1
    }

    /// Consumes `byte` if it is next (after space).
    private mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    /// Enters a list or an object at `at`; call `depth -= 1` on leaving it.
    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else {
            throw Problem(message: "lists and objects nested deeper than \(Self.maxDepth) levels", offset: at, kind: .limit)
        }
    }

    private mutating func list(_ body: ([Field?], Int) throws -> Void) throws {
        skipSpace()
        guard at < bytes.count, bytes[at] == UInt8(ascii: "[") else {
            // Valid JSON that is not a list is the wrong shape; anything else is broken.
            _ = try value()
            skipSpace()
            guard at == bytes.count else { throw fail("unexpected text after the value") }
            throw Problem(message: "expected a JSON list of records", offset: at, kind: .shape)
        }
        try enter()
        at += 1
        // One array of slots, emptied after each object, serves every object.
        var fields = [Field?](repeating: nil, count: keys.count)
        var count = 0
        if !take(UInt8(ascii: "]")) {
            repeat {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "{") else {
                    throw Problem(message: "record \(count) is not a JSON object", offset: at, kind: .shape)
                }
                try object(into: &fields)
                try body(fields, count)
                count += 1
                for k in fields.indices { fields[k] = nil }
            } while take(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"), "`,` or `]`")
        }
        skipSpace()
        guard at == bytes.count else { throw fail("unexpected text after the list") }
    }

    /// An object whose values of `keys` go into their slots of `fields`.
    private mutating func object(into fields: inout [Field?]) throws { try object(keeping: true, &fields) }

    /// An object, only checked.
    private mutating func skipObject() throws {
        var none: [Field?] = []
        try object(keeping: false, &none)
    }

    private mutating func object(keeping: Bool, _ fields: inout [Field?]) throws {
        skipSpace()
        try enter()
        defer { depth -= 1 }
        try expect(UInt8(ascii: "{"), "`{`")
        if take(UInt8(ascii: "}")) { return }
        if keeping { lastField = 0 }
        repeat {
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a field name") }
            var slot: Int?
            if keeping {
                slot = try keySlot()
            } else {
                _ = try string(keeping: false)
            }
            try expect(UInt8(ascii: ":"), "`:`")
            if let slot {
                fields[slot] = try value(keeping: true, interning: interned[slot])
            } else {
                _ = try value(keeping: false)
            }
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"), "`,` or `}`")
    }

    /// The index in `keys` of the field name at `at` (consumed), or nil for another name.
    private mutating func keySlot() throws -> Int? {
        let start = at + 1
        let end = endOfPlainText(from: start)
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            at = end + 1
            let count = end - start, name = bytes.baseAddress! + start
            let prefix = Self.prefix(name, count: count)
            func matches(_ k: Int) -> Bool {
                keyLengths[k] == count && keyPrefixes[k] == prefix
                    && (count <= 8 || keys[k].withUnsafeBufferPointer { memcmp($0.baseAddress! + 8, name + 8, count - 8) == 0 })
            }
            let guess = following[lastField]
            if guess >= 0, matches(guess) {
                lastField = guess + 1
                return guess
            }
            return found(keys.indices.first(where: matches))
        }
        // An escaped name: decode it first.
        let name = Array(try string().utf8)
        return found(keys.firstIndex(of: name))
    }

    /// Notes `slot` (nil: an unknown field) as the field after the last one, for the next guess.
    private mutating func found(_ slot: Int?) -> Int? {
        following[lastField] = slot ?? -1
        lastField = slot.map { $0 + 1 } ?? keys.count + 1
        return slot
    }

    /// A value; without `keeping`, strings and numbers are checked but not built.
    private mutating func value(keeping: Bool = true, interning: Bool = false) throws -> Field {
        skipSpace()
        guard at < bytes.count else { throw fail("unexpected end of file") }
        switch bytes[at] {
        case UInt8(ascii: "\""): return .string(try string(keeping: keeping, interning: interning))
        case UInt8(ascii: "{"):
            try skipObject()
            return .nested
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            at += 1
            if !take(UInt8(ascii: "]")) {
                repeat { _ = try value(keeping: false) } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"), "`,` or `]`")
            }
            return .nested
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: String) throws {
        let utf8 = Array(word.utf8)
        guard bytes.count - at >= utf8.count, Array(bytes[at..<(at + utf8.count)]) == utf8 else { throw fail("unexpected character") }
        at += utf8.count
    }

    private mutating func number() throws -> String {
        let start = at
        func digits() -> Int {
            let from = at
            while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1 }
            return at - from
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard digits() > 0 else { at = start; throw fail("unexpected character") }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw fail("expected digits after `.`") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw fail("expected an exponent") }
        }
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    /// A string starting at the opening quote; without `keeping`, checked and returned empty; with
    /// `interning`, shared with equal earlier strings when it has no escapes.
    private mutating func string(keeping: Bool = true, interning: Bool = false) throws -> String {
        at += 1
        let start = at
        // Fast path: no escapes; ASCII text needs no UTF-8 validation.
        at = endOfPlainText(from: at)
        var ascii = true
        while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\") {
            guard bytes[at] >= 0x20 else { throw fail("control character in a string") }
            ascii = ascii && bytes[at] < 0x80
            at += 1
        }
        guard at < bytes.count else { throw fail("unterminated string") }
        if bytes[at] == UInt8(ascii: "\"") {
            at += 1
            let slice = bytes[start..<(at - 1)]
            // Non-ASCII text is checked as UTF-8 (rare in QA files, so building it twice costs little).
            if !ascii { _ = try validated(slice) }
            guard keeping else { return "" }
            return interning ? interner.string(UnsafeBufferPointer(rebasing: slice)) : String(decoding: slice, as: UTF8.self)
        }
        var out = Array(bytes[start..<at])
        while true {
            guard at < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[at]
            at += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try validated(out[...])
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { throw fail("unterminated string") }
                let escape = bytes[at]
                at += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xd800...0xdbff).contains(scalar) {
                        guard bytes.count - at >= 6, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate in \\u escape")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xdc00...0xdfff).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw fail("invalid escape `\\\(Character(Unicode.Scalar(escape)))`")
                }
            default:
                guard byte >= 0x20 else { throw fail("control character in a string") }
                out.append(byte)
            }
        }
    }

    /// The first position from `start` on holding a quote, a backslash, a control character or a
    /// non-ASCII byte (or the end).
    private func endOfPlainText(from start: Int) -> Int { PlainText.end(in: bytes, from: start) }

    /// The first (up to) 8 of `count` bytes as a little-endian word, zero-padded.
    private static func prefix(_ bytes: UnsafePointer<UInt8>?, count: Int) -> UInt64 {
        var word: UInt64 = 0
        for k in 0..<min(count, 8) { word |= UInt64(bytes![k]) << (8 * k) }
        return word
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - at >= 4 else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[at]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            at += 1
        }
        return value
    }

    private func validated<Bytes: Collection<UInt8>>(_ slice: Bytes) throws -> String {
        guard let text = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return text
    }
}
