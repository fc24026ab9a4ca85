import Foundation
@testable import PipeData
import PipeRandom
import Testing

/// OmniMedVQA QA files as the real dataset writes them, and seeded splits.
struct OmniMedVQATests {
    static let realStyle = """
        [
          {"question_id": "CT_0001", "question_type": "Modality Recognition", "modality_type": "CT",
           "question": "What imaging modality is this?", "option_A": "MRI", "option_B": "CT", "option_C": "X-Ray",
           "option_D": "Ultrasound", "gt_answer": "CT", "image_path": "Images/X/1.png", "dataset": "X", "extra": 1},
          {"question_id": 2, "question_type": "Disease Diagnosis", "modality": "Fundus Photography",
           "question": "Which finding?", "option_A": "glaucoma ", "option_B": "normal",
           "gt_answer": "glaucoma", "image_path": "Images/Y/2.jpg", "dataset": "Y"}
        ]
        """

    @Test func readsRealLayoutWithAliasesAndTwoOptions() throws {
        let records = try OmniMedVQA.records(from: Data(Self.realStyle.utf8), file: "X.json")
        #expect(records.count == 2)
        #expect(records[0].answer == 1 && records[0].answerLetter == "B" && records[0].options.count == 4)
        #expect(records[1].questionID == "2")
        #expect(records[1].modality == "Fundus Photography")
        #expect(records[1].options == ["glaucoma ", "normal"])
        #expect(records[1].answer == 0)
    }

    @Test func writesWhatItReads() throws {
        let records = try OmniMedVQA.records(from: Data(Self.realStyle.utf8), file: "X.json")
        var chained = records
        chained[0].chainID = "img-1"
        chained[0].chainStep = 0
        #expect(try OmniMedVQA.records(from: try OmniMedVQA.json(chained), file: "round.json") == chained)
    }

    @Test(arguments: [
        (#"{"a": 1}"#, "X.json: expected a JSON list of records"),
        ("[1]", "X.json: record 0 is not a JSON object"),
        ("not json", "X.json: not valid JSON"),
        (#"[{"question_id": "q9", "question_type": "t", "modality_type": "CT", "question": "?", "option_A": "a", "option_B": "b", "gt_answer": "c", "image_path": "i", "dataset": "d"}]"#,
         #"X.json: record q9: gt_answer "c" matches none of its options "a", "b""#),
        (#"[{"question_id": "q8", "question_type": "t", "question": "?", "option_A": "a", "option_B": "b", "gt_answer": "a", "image_path": "i"}]"#,
         "X.json: record q8: missing `modality_type` (or `modality`)"),
        (#"[{"question_id": "q7", "question_type": "t", "modality": "CT", "question": "?", "option_A": "a", "gt_answer": "a", "image_path": "i"}]"#,
         "X.json: record q7: missing `option_B`"),
    ])
    func badFilesNameTheRecord(json: String, message: String) {
        #expect {
            _ = try OmniMedVQA.records(from: Data(json.utf8), file: "X.json")
        } throws: { error in
            (error as? DatasetError)?.description.hasPrefix(message) == true
        }
    }

    static func dataset(images: Int, modalities: [String] = ["CT", "MRI"], chain: Bool = false) -> [VQARecord] {
        var records: [VQARecord] = []
        for i in 0..<images {
            let modality = modalities[i % modalities.count]
            let types = chain ? ["Modality Recognition", "Anatomy Identification"] : ["Modality Recognition"]
            for (step, type) in types.enumerated() {
                records.append(VQARecord(questionID: "\(i)-\(step)", questionType: type, modality: modality, question: "?",
                                         options: ["a", "b"], answer: 0, imagePath: "Images/\(modality)/\(i).jpg",
                                         dataset: modality, chainID: chain ? "\(i)" : nil, chainStep: chain ? step : nil))
            }
        }
        return records
    }

    @Test func splitsAreSeededStratifiedAndKeepImagesTogether() {
        let records = Self.dataset(images: 200, chain: true)
        let plan = SplitPlan(test: 0.2, val: 0.1)
        let splits = plan.assign(records, seed: 7)
        #expect(splits == plan.assign(records, seed: 7))
        #expect(splits != plan.assign(records, seed: 8))
        for modality in ["CT", "MRI"] {
            let mine = zip(records, splits).filter { $0.0.modality == modality }.map(\.1)
            #expect(mine.filter { $0 == .test }.count == 40)  // 100 images x 0.2 x 2 questions
            #expect(mine.filter { $0 == .val }.count == 20)
        }
        var byImage: [String: Set<Split>] = [:]
        for (record, split) in zip(records, splits) { byImage[record.imagePath, default: []].insert(split) }
        #expect(byImage.values.allSatisfy { $0.count == 1 })
    }

    @Test func splitsByImageNumberEqualSplitsByPath() {
        let records = Self.dataset(images: 120, modalities: ["CT", "MRI", "OCT"], chain: true)
        let plan = SplitPlan(test: 0.2, val: 0.1)
        // Any one-to-one numbering of the images (here: reversed order of first appearance, as pixel
        // rows are when images precede their QA file) gives the assignment by path.
        var numbers: [String: Int] = [:]
        for record in records.reversed() where numbers[record.imagePath] == nil { numbers[record.imagePath] = numbers.count }
        let byNumber = plan.assign(images: records.map { numbers[$0.imagePath]! }, modalities: records.map(\.modality),
                                   questionTypes: records.map(\.questionType), seed: 3)
        #expect(byNumber == plan.assign(records, seed: 3))
        #expect(Set(byNumber) == [.train, .val, .test])
    }

    @Test func holdoutModalityIsTheWholeTestSet() {
        let records = Self.dataset(images: 90, modalities: ["CT", "MRI", "OCT"])
        let splits = SplitPlan(test: 0.2, val: 0.1, holdoutModalities: ["OCT"]).assign(records, seed: 1)
        for (record, split) in zip(records, splits) {
            if record.modality == "OCT" { #expect(split == .test) } else { #expect(split != .test) }
        }
        #expect(splits.filter { $0 == .val }.count == 6)  // 30 images x 0.1, for each of CT and MRI
    }

    @Test func seededRandomIsTheDocumentedSplitMix64() {
        // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var random = SeededRandom(seed: 0)
        #expect(random.next() == 0xe220_a839_7b1d_cdaf)
        #expect(random.next() == 0x6e78_9e6a_a1b9_65f4)
        #expect(random.next() == 0x06c4_5d18_8009_454f)
    }
}
