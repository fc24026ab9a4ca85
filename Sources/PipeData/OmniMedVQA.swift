import Foundation

/// Reading and writing OmniMedVQA's QA files (`QA_information/Open-access/<Dataset>.json`: a list of records).
public enum OmniMedVQA {
    /// Where QA files live under the dataset root.
    public static let qaDirectory = "QA_information/Open-access"

    /// Parses one QA file. Accepts `modality` for `modality_type`, missing `option_C`/`option_D`,
    /// numeric ids; ignores unknown fields; maps `gt_answer` (the answer's text) to its option.
    public static func records(from data: Data, file: String) throws -> [VQARecord] {
        var records: [VQARecord] = []
        try forEachRecord(in: data, file: file) { records.append($0) }
        return records
    }

    /// `records(from:file:)` one record at a time, without building the list. Fields repeated across
    /// records (question, options, modality, type, image path) share their strings.
    public static func forEachRecord(in data: Data, file: String, _ body: (VQARecord) throws -> Void) throws {
        try QAJSON.forEachObject(in: data, file: file, keys: Key.allCases.map(\.name),
                                 interning: Set(Key.allCases.filter { $0 != .questionID }.map(\.rawValue))) { fields, index in
            try body(try record(fields, file: file, index: index))
        }
    }

    /// The fields a record reads; the raw value is the field's slot in a parsed object.
    enum Key: Int, CaseIterable {
        case questionID, questionType, modalityType, modality, question, optionA, optionB, optionC, optionD
        case answer, imagePath, dataset, chainID, chainStep

        /// The field's JSON spelling.
        var name: String {
            ["question_id", "question_type", "modality_type", "modality", "question", "option_A", "option_B", "option_C",
             "option_D", "gt_answer", "image_path", "dataset", "chain_id", "chain_step"][rawValue]
        }
    }

    private static func record(_ fields: [QAJSON.Field?], file: String, index: Int) throws -> VQARecord {
        func text(_ key: Key) -> String? {
            switch fields[key.rawValue] {
            case .string(let s)?: return s
            case .number(let n)?: return n
            default: return nil
            }
        }
        let id = text(.questionID) ?? "#\(index)"
        func required(_ key: Key, alias: Key? = nil) throws -> String {
            if let value = text(key) ?? alias.flatMap(text) { return value }
            throw DatasetError("\(file): record \(id): missing `\(key.name)`" + (alias.map { " (or `\($0.name)`)" } ?? ""))
        }
        var options = [try required(.optionA), try required(.optionB)]
        if let c = text(.optionC) {
            options.append(c)
            if let d = text(.optionD) { options.append(d) }
        }
        let answerText = try required(.answer)
        guard let answer = options.firstIndex(of: answerText) ?? {
            let trimmedAnswer = Self.trimmed(answerText)
            return options.firstIndex(where: { Self.trimmed($0) == trimmedAnswer })
        }() else {
            throw DatasetError("\(file): record \(id): gt_answer \"\(answerText)\" matches none of its options "
                               + options.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return VQARecord(questionID: id, questionType: try required(.questionType),
                         modality: try required(.modalityType, alias: .modality),
                         question: try required(.question), options: options, answer: answer,
                         imagePath: try required(.imagePath), dataset: text(.dataset) ?? "",
                         chainID: text(.chainID), chainStep: text(.chainStep).flatMap { Int($0) })
    }

    /// `text` without leading and trailing white space (Unicode's, as `trimmingCharacters` has it).
    static func trimmed(_ text: String) -> Substring {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return Substring(scalars[first...last])
    }

    /// A QA file for `records`, in OmniMedVQA's field names (`gt_answer` as text), keys sorted.
    public static func json(_ records: [VQARecord]) throws -> Data {
        let list: [[String: Any]] = records.map { record in
            var fields: [String: Any] = [
                "question_id": record.questionID, "question_type": record.questionType,
                "modality_type": record.modality, "question": record.question,
                "gt_answer": record.options[record.answer], "image_path": record.imagePath, "dataset": record.dataset,
            ]
            for (letter, option) in zip(VQARecord.letters, record.options) { fields["option_\(letter)"] = option }
            if let chain = record.chainID { fields["chain_id"] = chain }
            if let step = record.chainStep { fields["chain_step"] = step }
            return fields
        }
        return try JSONSerialization.data(withJSONObject: list, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }
}
