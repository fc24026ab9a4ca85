import Foundation

/// Reading and writing OmniMedVQA's QA files (`QA_information/Open-access/<Dataset>.json`: a list of records).
public enum OmniMedVQA {
    /// Where QA files live under the dataset root.
    public static let qaDirectory = "QA_information/Open-access"

    /// Parses one QA file. Accepts `modality` for `modality_type`, missing `option_C`/`option_D`,
    /// numeric ids; ignores unknown fields; maps `gt_answer` (the answer's text) to its option.
    public static func records(from data: Data, file: String) throws -> [VQARecord] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw DatasetError("\(file): not valid JSON (\(error.localizedDescription))")
        }
        guard let list = parsed as? [Any] else { throw DatasetError("\(file): expected a JSON list of records") }
        return try list.enumerated().map { index, item in
            guard let fields = item as? [String: Any] else {
                throw DatasetError("\(file): record \(index) is not a JSON object")
            }
            return try record(fields, file: file, index: index)
        }
    }

    private static func record(_ fields: [String: Any], file: String, index: Int) throws -> VQARecord {
        func text(_ key: String) -> String? {
            switch fields[key] {
            case let s as String: return s
            case let n as NSNumber: return n.stringValue
            default: return nil
            }
        }
        let id = text("question_id") ?? "#\(index)"
        func required(_ key: String, alias: String? = nil) throws -> String {
            if let value = text(key) ?? alias.flatMap(text) { return value }
            throw DatasetError("\(file): record \(id): missing `\(key)`" + (alias.map { " (or `\($0)`)" } ?? ""))
        }
        var options = [try required("option_A"), try required("option_B")]
        for letter in ["C", "D"] {
            guard let option = text("option_\(letter)") else { break }
            options.append(option)
        }
        let answerText = try required("gt_answer")
        let trimmed = answerText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let answer = options.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == trimmed }) else {
            throw DatasetError("\(file): record \(id): gt_answer \"\(answerText)\" matches none of its options "
                               + options.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return VQARecord(questionID: id, questionType: try required("question_type"),
                         modality: try required("modality_type", alias: "modality"),
                         question: try required("question"), options: options, answer: answer,
                         imagePath: try required("image_path"), dataset: text("dataset") ?? "",
                         chainID: text("chain_id"), chainStep: (fields["chain_step"] as? NSNumber)?.intValue)
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
        return try JSONSerialization.data(withJSONObject: list, options: [.sortedKeys, .prettyPrinted])
    }
}
