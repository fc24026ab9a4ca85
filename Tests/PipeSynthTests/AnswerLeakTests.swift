import Foundation
import PipeData
import Testing
@testable import PipeSynth

/// The benchmark must be answerable from the image and only from it: a text-only model (question
/// and options, no image) stays at chance, while a model that sees pixels does much better.
struct AnswerLeakTests {
    /// A text-only baseline (it sees what a prompt shows: the question and the options, not the
    /// record's `modality_type`, which would give away modality questions) that learns, on training records, how often each option text is right for
    /// each question text, question type and option set, and how often each position is right for
    /// each question type and option count; it answers the option with the best smoothed log-odds.
    struct TextOnlyBaseline {
        var right: [String: Double] = [:]
        var offered: [String: Double] = [:]

        static func features(_ record: VQARecord, option: Int) -> [String] {
            let text = record.options[option]
            let set = record.options.sorted().joined(separator: "|")
            return ["q:\(record.question)|o:\(text)", "t:\(record.questionType)|o:\(text)",
                    "t:\(record.questionType)|set:\(set)|o:\(text)",
                    "t:\(record.questionType)|k:\(record.options.count)|p:\(option)"]
        }

        mutating func train(_ records: [VQARecord]) {
            for record in records {
                for option in record.options.indices {
                    for feature in Self.features(record, option: option) {
                        offered[feature, default: 0] += 1
                        if option == record.answer { right[feature, default: 0] += 1 }
                    }
                }
            }
        }

        func predict(_ record: VQARecord) -> Int {
            let scores = record.options.indices.map { option in
                Self.features(record, option: option).reduce(0.0) { sum, feature in
                    let p = (right[feature, default: 0] + 1) / (offered[feature, default: 0] + 2)
                    return sum + log(p / (1 - p))
                }
            }
            return scores.indices.max { scores[$0] < scores[$1] }!
        }

        func accuracy(_ records: [VQARecord]) -> Double {
            Double(records.filter { predict($0) == $0.answer }.count) / Double(records.count)
        }
    }

    static func chance(_ records: [VQARecord]) -> Double {
        records.reduce(0) { $0 + 1 / Double($1.options.count) } / Double(records.count)
    }

    static func records(_ range: Range<Int>, _ generator: SynthGenerator) -> [VQARecord] {
        range.flatMap { generator.sample($0).records }
    }

    @Test func textOnlyBaselineStaysAtChance() throws {
        var config = SynthConfig()
        config.size = 8
        config.seed = 5
        let generator = try SynthGenerator(config)
        let train = Self.records(0..<3000, generator)
        let test = Self.records(3000..<4500, generator)
        var baseline = TextOnlyBaseline()
        baseline.train(train)
        let accuracy = baseline.accuracy(test)
        let chance = Self.chance(test)
        print("text-only baseline: \(accuracy) on \(test.count) test records; chance \(chance)")
        // 7,500 records: one standard deviation of the accuracy is about 0.0056.
        #expect(abs(accuracy - chance) < 0.025)
        for type in QuestionType.allCases {
            let subset = test.filter { $0.questionType == type.rawValue }
            #expect(abs(baseline.accuracy(subset) - Self.chance(subset)) < 0.05, "\(type.rawValue)")
        }

        // The same baseline finds a leak when there is one: here the answer is always option A.
        func leaky(_ records: [VQARecord]) -> [VQARecord] {
            records.map { record in
                var record = record
                record.options.swapAt(0, record.answer)
                record.answer = 0
                return record
            }
        }
        var detector = TextOnlyBaseline()
        detector.train(leaky(train))
        #expect(detector.accuracy(leaky(test)) > 0.95)
    }

    /// A nearest-centroid classifier on raw pixels, trained per question type on the answer's text.
    @Test func pixelsTellTheModalityAndAnatomy() throws {
        var config = SynthConfig()
        config.size = 16
        config.seed = 9
        config.difficulty = Difficulty.presets["easy"]!
        let generator = try SynthGenerator(config)
        let samples = (0..<1200).map { generator.sample($0) }
        func accuracy(_ type: QuestionType) -> Double {
            var sums: [String: [Double]] = [:]
            var counts: [String: Double] = [:]
            func key(_ record: VQARecord, _ option: Int) -> String { "\(record.modality)|\(record.options[option])" }
            for sample in samples[..<800] {
                for record in sample.records where record.questionType == type.rawValue {
                    let k = key(record, record.answer)
                    var sum = sums[k] ?? [Double](repeating: 0, count: sample.image.pixels.count)
                    for (i, v) in sample.image.pixels.enumerated() { sum[i] += Double(v) }
                    sums[k] = sum
                    counts[k, default: 0] += 1
                }
            }
            var right = 0, total = 0
            for sample in samples[800...] {
                for record in sample.records where record.questionType == type.rawValue {
                    let distances = record.options.indices.map { option -> Double in
                        guard let sum = sums[key(record, option)] else { return .infinity }
                        let n = counts[key(record, option)]!
                        return zip(sum, sample.image.pixels).reduce(0) { $0 + pow($1.0 / n - Double($1.1), 2) }
                    }
                    right += distances.indices.min { distances[$0] < distances[$1] } == record.answer ? 1 : 0
                    total += 1
                }
            }
            return Double(right) / Double(total)
        }
        let modality = accuracy(.modality), anatomy = accuracy(.anatomy)
        print("nearest-centroid on pixels: modality \(modality), anatomy \(anatomy)")
        #expect(modality > 0.95)
        #expect(anatomy > 0.75)
    }
}
