import Foundation
import PipeArchive
import PipeData
import PipeImaging
import PipeTestSupport
import Testing
@testable import PipeSynth

/// The synthetic benchmark: layout, schema, determinism, knobs, chains.
struct SynthGeneratorTests {
    static func config(images: Int = 40, size: Int = 32, _ change: (inout SynthConfig) -> Void = { _ in }) -> SynthConfig {
        var config = SynthConfig()
        config.images = images
        config.size = size
        config.seed = 11
        change(&config)
        return config
    }

    /// Every entry of an archive: path -> bytes.
    static func entries(_ path: String) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        try ArchiveReader(path: path).forEach { entry, read in
            if entry.kind == .file { out.append((entry.path, try read())) }
        }
        return out
    }

    @Test func archiveHasTheOmniMedVQALayoutAndSchema() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/synth.zip"
        let summary = try SynthGenerator(Self.config()).write(to: path)
        let entries = try Self.entries(path)
        let qa = entries.filter { $0.0.hasPrefix("QA_information/Open-access/") }
        let images = Dictionary(uniqueKeysWithValues: entries.filter { $0.0.hasPrefix("Images/") })
        #expect(images.count == 40)
        #expect(qa.count == Set(summary.imagesByModality.keys).count)
        var records: [VQARecord] = []
        for (name, data) in qa {
            // The raw fields, as OmniMedVQA spells them.
            let raw = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            for fields in raw {
                for key in ["question_id", "question_type", "modality_type", "question", "option_A", "option_B", "gt_answer", "image_path", "dataset"] {
                    #expect(fields[key] is String, "\(name): \(key)")
                }
                let options = ["A", "B", "C", "D"].compactMap { fields["option_\($0)"] as? String }
                #expect(options.contains(fields["gt_answer"] as? String ?? "?"), "gt_answer is the answer's text")
            }
            records += try OmniMedVQA.records(from: data, file: name)
            let dataset = (name as NSString).lastPathComponent.replacingOccurrences(of: ".json", with: "")
            #expect(records.last?.dataset == dataset)
        }
        #expect(records.count == summary.records)
        #expect(records.count == 200, "5 question types x 40 images")
        for record in records {
            #expect((2...4).contains(record.options.count))
            #expect(Set(record.options).count == record.options.count, "options are distinct")
            #expect(record.imagePath.hasPrefix("Images/\(record.dataset)/"))
            let jpeg = try #require(images[record.imagePath], "image of \(record.questionID) is in the archive")
            #expect(jpeg.starts(with: [0xff, 0xd8]))
            let image = try Image(decoding: jpeg)
            #expect(image.width == 32 && image.height == 32 && image.channels == 3)
        }
        #expect(Set(records.map(\.questionType)) == Set(QuestionType.allCases.map(\.rawValue)))
    }

    @Test func sameConfigAndSeedGiveTheSameBytesWhateverTheThreads() throws {
        let directory = try TemporaryDirectory()
        func digest(_ name: String, _ change: (inout SynthConfig) -> Void) throws -> Data {
            let path = directory.path + "/" + name
            _ = try SynthGenerator(Self.config(images: 300, change)).write(to: path)
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        let first = try digest("a.zip") { $0.threads = 1 }
        let second = try digest("b.zip") { $0.threads = 2 }
        #expect(first == second)
        let gzip = try digest("a.tar.gz") { $0.format = .tarGzip }
        #expect(gzip == (try digest("b.tar.gz") { $0.format = .tarGzip; $0.threads = 3 }))
        #expect(first != (try digest("c.zip") { $0.seed = 12 }), "another seed gives another benchmark")
        #expect(first != (try digest("d.zip") { $0.difficulty.noise = 0.2 }), "the knobs change the images")
        // Both formats hold the same entries.
        let zipEntries = try Self.entries(directory.path + "/a.zip")
        let tarEntries = try Self.entries(directory.path + "/a.tar.gz")
        #expect(zipEntries.map(\.0) == tarEntries.map(\.0))
        #expect(zipEntries.map(\.1) == tarEntries.map(\.1))
    }

    @Test func eachImageIsAChainOfModalityAnatomyFindingDiagnosis() throws {
        let generator = try SynthGenerator(Self.config())
        for index in 0..<20 {
            let records = generator.sample(index).records
            let chained = records.filter { $0.chainID != nil }
            #expect(chained.map(\.questionType) == ["Modality Recognition", "Anatomy Identification", "Lesion Grading", "Disease Diagnosis"])
            #expect(chained.map { $0.chainStep ?? 0 } == [1, 2, 3, 4])
            #expect(Set(chained.map(\.chainID)).count == 1)
            #expect(Set(records.map(\.imagePath)).count == 1, "a chain asks about one image")
            #expect(records.filter { $0.chainID == nil }.map(\.questionType) == ["Other Biological Attributes"])
        }
        let unchained = try SynthGenerator(Self.config { $0.chains = false })
        #expect(unchained.sample(0).records.allSatisfy { $0.chainID == nil && $0.chainStep == nil })
    }

    @Test func knobsSelectModalitiesQuestionTypesAndOptionCounts() throws {
        let generator = try SynthGenerator(Self.config(images: 60) {
            $0.modalities = ["OCT", "Fundus Photography"]
            $0.questionTypes = [.diagnosis, .modality]
            $0.optionCounts = 2...2
        })
        let records = (0..<60).flatMap { generator.sample($0).records }
        #expect(Set(records.map(\.modality)) == ["OCT", "Fundus Photography"])
        #expect(Set(records.map(\.questionType)) == ["Modality Recognition", "Disease Diagnosis"])
        #expect(records.allSatisfy { $0.options.count == 2 })
        // One modality: nothing to recognise it from, so no modality questions.
        let single = try SynthGenerator(Self.config { $0.modalities = ["CT"] })
        #expect(!single.sample(0).records.contains { $0.questionType == "Modality Recognition" })
        #expect(throws: DatasetError.self) { try SynthGenerator(Self.config { $0.modalities = ["PET"] }) }
        #expect(throws: DatasetError.self) { try SynthGenerator(Self.config { $0.questionTypes = [] }) }
    }

    @Test func answerPositionsAreUniformGivenTheOptionCount() throws {
        let generator = try SynthGenerator(Self.config(images: 1500, size: 8))
        var counts: [Int: [Int]] = [2: [0, 0], 3: [0, 0, 0], 4: [0, 0, 0, 0]]
        for index in 0..<1500 {
            for record in generator.sample(index).records { counts[record.options.count]![record.answer] += 1 }
        }
        for (k, byPosition) in counts {
            let total = byPosition.reduce(0, +)
            let expected = Double(total) / Double(k)
            for n in byPosition {
                // Within 5 standard deviations of a uniform draw.
                #expect(abs(Double(n) - expected) < 5 * (expected * (1 - 1 / Double(k))).squareRoot(), "\(k) options: \(byPosition)")
            }
        }
    }

    @Test func lesionsAreSeparateAndOnTheAskedSide() {
        var random = SynthRandom(seed: 1, stream: 2)
        let region = Region(cx: 0.5, cy: 0.5, rx: 0.3, ry: 0.3)
        for _ in 0..<200 {
            let four = SynthGenerator.place(4, radius: 0.06, in: region, side: nil, random: &random)
            #expect(four.count == 4)
            for (i, a) in four.enumerated() {
                #expect(region.contains(a.0, a.1))
                for b in four[(i + 1)...] { #expect(((a.0 - b.0) * (a.0 - b.0) + (a.1 - b.1) * (a.1 - b.1)).squareRoot() > 0.12) }
            }
            let left = SynthGenerator.place(1, radius: 0.08, in: region, side: 0, random: &random)[0]
            let right = SynthGenerator.place(1, radius: 0.08, in: region, side: 1, random: &random)[0]
            #expect(left.0 + 0.08 < 0.5 && right.0 - 0.08 > 0.5)
        }
    }
}
