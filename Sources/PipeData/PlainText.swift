/// Runs of bytes that JSON holds as they are: printable ASCII other than quote and backslash.
enum PlainText {
    /// The first position from `start` on in `bytes` holding a quote, a backslash, a control
    /// character or a non-ASCII byte (or `bytes.count`). Eight bytes at a time, with the usual word
    /// tricks for "some byte is zero" and "some byte is below n".
    static func end(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = start
        if let base = bytes.baseAddress {
            while i + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                let quote = word ^ (0x22 &* ones), backslash = word ^ (0x5c &* ones)
                let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- 0x20 &* ones) & ~word) | word
                if special & highs != 0 { break }
                i += 8
            }
        }
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
            i += 1
        }
        return i
    }
}
