import Foundation
import Testing
@testable import PipeData

/// The QA-file reader's nesting limit: hostile files are refused with their place, never a crash.
struct QAJSONLimitTests {
    func parse(_ text: String) throws -> [[QAJSON.Field?]] {
        try QAJSON.objects(in: Data(text.utf8), file: "T.json", keys: ["a"])
    }

    /// `depth` lists or objects around a number, starting with the file's own list and a record.
    static func nested(_ depth: Int, open: String = "[", close: String = "]") -> String {
        "[{\"a\": " + String(repeating: open, count: depth - 2) + "1" + String(repeating: close, count: depth - 2) + "}]"
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        let rows = try parse(Self.nested(QAJSON.maxDepth))
        #expect(rows == [[.nested]])
    }

    @Test(arguments: [
        // One level too deep: the byte of the first bracket past the limit (the list, the record and
        // `"a": ` come first: 7 bytes; then 62 brackets fit).
        (nested(QAJSON.maxDepth + 1), "T.json: lists and objects nested deeper than 64 levels at line 1, byte 69"),
        // 100,000 levels, as lists, as objects, and in the file's place of a record.
        (nested(100_000), "T.json: lists and objects nested deeper than 64 levels at line 1, byte 69"),
        (nested(100_000, open: "{\"k\": ", close: "}"), "T.json: lists and objects nested deeper than 64 levels at line 1, byte 379"),
        (String(repeating: "{\"k\": ", count: 100_000), "T.json: lists and objects nested deeper than 64 levels at line 1, byte 384"),
        (String(repeating: "[", count: 100_000), "T.json: record 0 is not a JSON object"),
        ("[\n{\"a\": 1},\n" + String(repeating: "[", count: 100_000), "T.json: record 1 is not a JSON object"),
        ("[\n{\"a\": 1},\n{\"b\": " + String(repeating: "[", count: 100_000), "T.json: lists and objects nested deeper than 64 levels at line 3, byte 80"),
    ])
    func deeperNestingIsRefusedWithItsPlace(text: String, message: String) {
        #expect {
            _ = try parse(text)
        } throws: { error in
            let description = (error as? DatasetError)?.description ?? "\(error)"
            return description.hasPrefix(message)
        }
    }

    @Test func theMessageSaysWhatAQAFileIs() {
        let error = #expect(throws: DatasetError.self) { _ = try parse(Self.nested(100_000)) }
        #expect(error?.description.hasSuffix("hint: a QA file is a JSON list of flat records") == true)
    }
}
