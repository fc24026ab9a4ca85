import Foundation
import Testing
@testable import PipeData

/// The QA-file reader against `JSONSerialization` on what real files contain, and on broken input.
struct QAJSONTests {
    static let keys = ["a", "b", "c"]

    func parse(_ text: String) throws -> [[QAJSON.Field?]] {
        try QAJSON.objects(in: Data(text.utf8), file: "T.json", keys: Self.keys)
    }

    @Test func readsStringsNumbersLiteralsAndSkipsNestedAndUnknownFields() throws {
        let rows = try parse("""
            \u{FEFF}[ {"a": "x\\"y\\\\z\\/\\n\\t\\u00e9\\ud83d\\ude00", "b": -12.5e+3, "zz": {"deep": [1, {"k": null}]}, "c": true},
              {"b": [1, 2], "a": null, "c\\u0000": 1, "c": "caf\u{e9} \u{1F600}"} ,
              {} ]
            """)
        #expect(rows.count == 3)
        #expect(rows[0] == [.string("x\"y\\z/\n\té😀"), .number("-12.5e+3"), .bool(true)])
        #expect(rows[1] == [.null, .nested, .string("café 😀")])
        #expect(rows[2] == [nil, nil, nil])
    }

    @Test func fieldsInChangingOrderLandInTheirSlots() throws {
        // The reader guesses each name from the previous object's order: the guess must never stick.
        let objects = (0..<40).map { i -> String in
            var fields = ["\"a\": \"a\(i)\"", "\"b\": \(i)", "\"c\": \"plain text longer than eight \(i) ü\""]
            if i % 3 == 0 { fields.reverse() }
            if i % 4 == 1 { fields.insert("\"other_field\": [\"x\"]", at: 1) }
            if i % 5 == 2 { fields.removeFirst() }
            return "{" + fields.joined(separator: ", ") + "}"
        }
        let rows = try parse("[" + objects.joined(separator: ",\n") + "]")
        for (i, row) in rows.enumerated() {
            let reversed = i % 3 == 0, dropped = i % 5 == 2
            #expect(row[0] == (dropped && !reversed ? nil : .string("a\(i)")))
            #expect(row[1] == .number("\(i)"))
            #expect(row[2] == (dropped && reversed ? nil : .string("plain text longer than eight \(i) ü")))
        }
    }

    @Test func agreesWithJSONSerializationOnAWrittenQAFile() throws {
        let records = (0..<50).map { i in
            VQARecord(questionID: "id\(i)", questionType: "Lesion Grading", modality: "CT", question: "Q \"\(i)\" / \\ é\n",
                      options: ["a\(i)", "b\(i)", "ü\(i)"], answer: i % 3, imagePath: "Images/CT/\(i).png", dataset: "CT",
                      chainID: i % 2 == 0 ? "c\(i)" : nil, chainStep: i % 2 == 0 ? i : nil)
        }
        let data = try OmniMedVQA.json(records)
        #expect(try OmniMedVQA.records(from: data, file: "T.json") == records)
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let ours = try QAJSON.objects(in: data, file: "T.json", keys: ["question", "option_C", "chain_step"])
        for (mine, theirs) in zip(ours, reference) {
            #expect(mine[0] == .string(theirs["question"] as! String))
            #expect(mine[1] == .string(theirs["option_C"] as! String))
            #expect(mine[2] == (theirs["chain_step"] as? Int).map { .number(String($0)) })
        }
    }

    @Test(arguments: [
        ("[{\"a\": \"x\"}\n,\n{\"a\" \"y\"}]", "T.json: not valid JSON: expected `:` at line 3"),
        ("[{\"a\": \"unterminated}]", "T.json: not valid JSON: unterminated string at line 1"),
        ("[{\"a\": \"bad \\q escape\"}]", "T.json: not valid JSON: invalid escape `\\q` at line 1"),
        ("[{\"a\": \"\\ud800 alone\"}]", "T.json: not valid JSON: unpaired surrogate"),
        ("[{\"a\": 1.}]", "T.json: not valid JSON: expected digits after `.`"),
        ("[{\"a\": tru}]", "T.json: not valid JSON: unexpected character"),
        ("[{\"a\": 1}] trailing", "T.json: not valid JSON: unexpected text after the list"),
        ("[{\"a\": 1},]", "T.json: record 1 is not a JSON object"),
        ("", "T.json: not valid JSON: unexpected end of file"),
        ("\"just a string\"", "T.json: expected a JSON list of records"),
        ("[{\"a\": \"tab\tinside\"}]", "T.json: not valid JSON: control character in a string"),
    ])
    func brokenFilesAreReportedWithTheirLine(text: String, message: String) {
        #expect {
            _ = try parse(text)
        } throws: { error in
            (error as? DatasetError)?.description.hasPrefix(message) == true
        }
    }

    @Test func invalidUTF8IsRefused() {
        var bytes = Array("[{\"a\": \"".utf8)
        bytes += [0xff, 0xfe]
        bytes += Array("\"}]".utf8)
        #expect(throws: DatasetError.self) { try QAJSON.objects(in: Data(bytes), file: "T.json", keys: Self.keys) }
    }

    @Test func datasetIndexWrittenByHandReadsBackWithJSONDecoder() throws {
        let directory = NSTemporaryDirectory() + "/index-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let records = (0..<4).map { i in
            DatasetIndex.Entry(record: VQARecord(questionID: "q\(i)", questionType: "T", modality: "M \"\u{1}\"",
                                                 question: "tab\there / é", options: ["x", "y\\"], answer: i % 2,
                                                 imagePath: "Images/a/\(i).png", dataset: "a",
                                                 chainID: i == 0 ? "c" : nil, chainStep: i == 0 ? 2 : nil),
                               image: i / 2, split: i == 3 ? .test : .train)
        }
        let index = DatasetIndex(format: DatasetIndex.currentFormat, imageSize: 16, channels: 3,
                                 images: ["Images/a/0.png", "Images/a/2.png"], records: records)
        try index.write(to: directory + "/index.json")
        #expect(try DatasetIndex.read(from: directory + "/index.json") == index)
    }
}
