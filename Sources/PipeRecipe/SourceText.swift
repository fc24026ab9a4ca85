import Foundation

/// The text of a recipe or experiment file, which must be UTF-8.
public enum SourceText {
    /// `bytes` as text, or an error at the first byte that is not UTF-8 (its line, column and offset).
    public static func decode(_ bytes: Data, file: String) throws -> String {
        if let text = String(data: bytes, encoding: .utf8) { return text }
        throw error(in: [UInt8](bytes), file: file)
    }

    private static func error(in array: [UInt8], file: String) -> RecipeError {
        let offset = firstInvalidOffset(array)
        guard offset < array.count else {
            return RecipeError(SourceLocation(file: file, line: 1, column: 1), path: "", "not UTF-8 text", hint: "save the file as UTF-8")
        }
        let before = array[..<offset]
        let line = before.reduce(1) { $0 + ($1 == 0x0a ? 1 : 0) }
        let lineStart = before.lastIndex(of: 0x0a).map { $0 + 1 } ?? 0
        let column = String(decoding: array[lineStart..<offset], as: UTF8.self).count + 1
        let byte = String(array[offset], radix: 16, uppercase: true)
        return RecipeError(SourceLocation(file: file, line: line, column: column), path: "",
                           "not UTF-8 text: byte 0x\(byte.count == 1 ? "0" + byte : byte) at offset \(offset)",
                           hint: "save the file as UTF-8")
    }

    /// The offset of the first byte that does not belong to a valid UTF-8 sequence.
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int {
        var offset = 0
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return bytes.count
            case .error: return offset
            }
        }
    }
}
