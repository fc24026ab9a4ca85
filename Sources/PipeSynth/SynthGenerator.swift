import Foundation
import PipeArchive
import PipeData
import PipeImaging

/// What to generate.
public struct SynthConfig: Sendable {
    public var images = 1000
    /// Image side in pixels.
    public var size = 64
    /// Modality names (`SynthGenerator.modalityNames`); all by default.
    public var modalities: [String] = SynthGenerator.modalityNames
    public var questionTypes: [QuestionType] = QuestionType.allCases
    public var difficulty = Difficulty.presets["medium"]!
    /// Options per question, drawn uniformly from this range (at most the number of classes).
    public var optionCounts: ClosedRange<Int> = 2...4
    /// Mark modality/anatomy/grade/diagnosis questions of one image as a stepwise chain.
    public var chains = true
    public var jpegQuality = 90
    public var seed: UInt64 = 0
    public var format = ArchiveWriter.Format.zip
    /// Rendering threads; the output does not depend on it.
    public var threads = 1

    public init() {}
}

/// Counts describing a generated benchmark (the `metrics.json` next to the archive).
public struct SynthSummary: Codable, Equatable, Sendable {
    public var images: Int
    public var records: Int
    public var chains: Int
    public var imagesByModality: [String: Int]
    public var recordsByQuestionType: [String: Int]
    public var recordsByAnswerLetter: [String: Int]
    public var recordsByOptionCount: [String: Int]
    /// The expected accuracy of guessing: the mean over records of 1 / options.
    public var chanceAccuracy: Double
}

/// One generated image and its questions.
public struct SynthSample: Sendable {
    public var image: Image
    public var records: [VQARecord]
}

/// The procedural medical VQA benchmark: scenes of eight modalities with anatomy, a finding of a
/// grade and a count or side, rendered, degraded by the difficulty knobs, and asked about in
/// OmniMedVQA's schema. Every image draws from its own random stream (seed, index), so the output
/// is the same for any number of threads.
public struct SynthGenerator: Sendable {
    public let config: SynthConfig
    private let modalities: [Modality]
    private let types: [QuestionType]

    /// Every modality name the generator knows, in its canonical order.
    public static let modalityNames = Modality.all.map(\.name)

    public init(_ config: SynthConfig) throws {
        self.config = config
        modalities = try config.modalities.map { name in
            guard let modality = Modality.all.first(where: { $0.name == name }) else {
                throw DatasetError("unknown modality `\(name)`; known: \(Self.modalityNames.joined(separator: ", "))")
            }
            return modality
        }
        guard !modalities.isEmpty else { throw DatasetError("no modalities to generate") }
        guard config.images > 0, config.size >= 8, config.optionCounts.lowerBound >= 2, config.optionCounts.upperBound <= 4 else {
            throw DatasetError("images must be positive, size at least 8, and options between 2 and 4")
        }
        // Recognising the modality needs a second modality to tell it from.
        let several = modalities.count > 1
        types = QuestionType.recordOrder.filter { config.questionTypes.contains($0) && ($0 != .modality || several) }
        guard !types.isEmpty else { throw DatasetError("no question types to ask") }
    }

    /// Image `index` and its questions.
    public func sample(_ index: Int) -> SynthSample {
        var (records, scene) = plan(index)
        return SynthSample(image: scene.render(config, random: &scene.random), records: records)
    }

    /// What image `index` shows and the questions about it, without drawing it.
    struct Scene {
        var modality: Modality
        var anatomy: Int, finding: Int, grade: Int, attribute: Int
        /// The image's random stream, past the label draws.
        var random: SynthRandom
    }

    /// The questions about image `index` and its scene, ready to render.
    func plan(_ index: Int) -> ([VQARecord], Scene) {
        var random = SynthRandom(seed: config.seed, stream: UInt64(index))
        let similarity = Float(config.difficulty.distractorSimilarity)
        var draws: [QuestionType: OptionDraw] = [:]
        func label(_ type: QuestionType, classes: Int, similarity: Float) -> Int {
            guard types.contains(type) else { return random.int(classes) }
            let draw = OptionDraw.draw(classCount: classes, counts: config.optionCounts, similarity: similarity, random: &random)
            draws[type] = draw
            return draw.label
        }
        // The modality is drawn without the similarity bias, so every modality is equally frequent.
        let modality = modalities[label(.modality, classes: modalities.count, similarity: 0)]
        let anatomy = label(.anatomy, classes: modality.anatomies.count, similarity: similarity)
        let finding = label(.diagnosis, classes: modality.findings.count, similarity: similarity)
        let grade = label(.grading, classes: Modality.grades.count, similarity: similarity)
        let attribute = label(.attribute, classes: modality.attribute.classes.count, similarity: similarity)

        let id = String(format: "%@_%06d", modality.dataset, index)
        let path = "Images/\(modality.dataset)/\(id).jpg"
        let chained = config.chains && types.filter({ $0.chainStep != nil }).count > 1
        let records = types.map { type -> VQARecord in
            let draw = draws[type]!
            let names: [String]
            switch type {
            case .modality: names = modalities.map(\.name)
            case .anatomy: names = modality.anatomies
            case .diagnosis: names = modality.findings.map(\.name)
            case .grading: names = Modality.grades
            case .attribute: names = modality.attribute.classes
            }
            let templates = type.templates(for: modality)
            return VQARecord(questionID: "\(id)_\(type.slug)", questionType: type.rawValue, modality: modality.name,
                             question: templates[random.int(templates.count)], options: draw.classes.map { names[$0] },
                             answer: draw.answer, imagePath: path, dataset: modality.dataset,
                             chainID: chained && type.chainStep != nil ? id : nil, chainStep: chained ? type.chainStep : nil)
        }
        return (records, Scene(modality: modality, anatomy: anatomy, finding: finding, grade: grade, attribute: attribute,
                               random: random))
    }

    /// Centres for `count` lesions of radius `r` inside `region`, apart from each other, wholly in
    /// the left (side 0) or right (side 1) half of the image when `side` is given. Crowded layouts
    /// relax the spacing gradually rather than fail.
    static func place(_ count: Int, radius r: Float, in region: Region, side: Int?, random: inout SynthRandom) -> [(Float, Float)] {
        var spacing = 2.1 * r + 0.015
        var centres: [(Float, Float)] = []
        var tries = 0
        var xRange = (region.cx - region.rx, region.cx + region.rx)
        if let side {
            // Keep the whole lesion clear of the midline.
            let margin = r + 0.03
            xRange = side == 0 ? (xRange.0, min(xRange.1, 0.5 - margin)) : (max(xRange.0, 0.5 + margin), xRange.1)
        }
        while centres.count < count {
            tries += 1
            if tries % 100 == 0 { spacing *= 0.9 }
            let x = random.uniform(xRange.0, xRange.1)
            let y = random.uniform(region.cy - region.ry, region.cy + region.ry)
            let fits = region.contains(x, y) && x > r && x < 1 - r && y > r && y < 1 - r
            let apart = centres.allSatisfy { (($0.0 - x) * ($0.0 - x) + ($0.1 - y) * ($0.1 - y)).squareRoot() >= spacing }
            // The last clause only guarantees termination; no built-in modality's layout reaches it.
            if (fits && apart) || tries > 5000 { centres.append((x, y)) }
        }
        return centres
    }

    /// Generates the benchmark as an archive at `path` in the OmniMedVQA layout: images under
    /// `Images/<Dataset>/`, then one `QA_information/Open-access/<Dataset>.json` per modality.
    /// `progress` hears the number of images written so far after each chunk and may stop the
    /// generation by returning false (the archive is then incomplete and the call throws).
    public func write(to path: String, progress: (Int) -> Bool = { _ in true }) throws -> SynthSummary {
        // Questions first: planning is cheap, and QA files ahead of the images let `unpack` read
        // the archive in one pass.
        var recordsByDataset: [String: [VQARecord]] = [:]
        var paths: [String] = []
        for index in 0..<config.images {
            let records = plan(index).0
            recordsByDataset[records[0].dataset, default: []] += records
            paths.append(records[0].imagePath)
        }
        let datasets = modalities.map(\.dataset).filter { recordsByDataset[$0] != nil }
        let writer = try ArchiveWriter(path: path, format: config.format)
        for dataset in datasets {
            try writer.addFile("\(OmniMedVQA.qaDirectory)/\(dataset).json", try OmniMedVQA.json(recordsByDataset[dataset]!))
        }
        let chunk = 256
        for start in stride(from: 0, to: config.images, by: chunk) {
            let indices = Array(start..<min(config.images, start + chunk))
            for (index, jpeg) in zip(indices, try renderChunk(indices)) { try writer.addFile(paths[index], jpeg) }
            guard progress(indices[indices.count - 1] + 1) else { throw DatasetError("generation stopped") }
        }
        try writer.finish()
        let records = datasets.flatMap { recordsByDataset[$0]! }
        func counts(_ key: (VQARecord) -> String) -> [String: Int] { records.reduce(into: [:]) { $0[key($1), default: 0] += 1 } }
        var imagesByModality: [String: Int] = [:]
        for dataset in datasets {
            imagesByModality[recordsByDataset[dataset]![0].modality] = Set(recordsByDataset[dataset]!.map(\.imagePath)).count
        }
        return SynthSummary(images: config.images, records: records.count,
                            chains: Set(records.compactMap(\.chainID)).count, imagesByModality: imagesByModality,
                            recordsByQuestionType: counts(\.questionType), recordsByAnswerLetter: counts(\.answerLetter),
                            recordsByOptionCount: counts { String($0.options.count) },
                            chanceAccuracy: records.reduce(0) { $0 + 1 / Double($1.options.count) } / Double(records.count))
    }

    /// Renders and encodes `indices` on up to `config.threads` threads, results in index order.
    private func renderChunk(_ indices: [Int]) throws -> [Data] {
        let threads = max(1, min(config.threads, indices.count))
        let results = ResultSlots<Result<Data, Error>>(count: indices.count)
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            for slot in stride(from: worker, to: indices.count, by: threads) {
                let image = self.sample(indices[slot]).image
                results[slot] = Result { try image.jpegData(quality: config.jpegQuality) }
            }
        }
        return try results.values.map { try $0!.get() }
    }
}

extension SynthGenerator.Scene {
    /// Draws the scene, places the lesions, and applies the difficulty knobs.
    func render(_ config: SynthConfig, random: inout SynthRandom) -> Image {
        let knobs = config.difficulty
        var canvas = Canvas(size: config.size, fill: .gray(0))
        let region = modality.drawAnatomy(&canvas, anatomy, &random)
        let radius = modality.gradeRadii[grade] * random.uniform(0.93, 1.07)
        let count = modality.attribute == .count ? attribute + 1 : 1
        let side: Int? = modality.attribute == .laterality ? attribute : nil
        let opacity = Float(1 - 0.75 * knobs.lesionSubtlety) * random.uniform(0.9, 1)
        for (x, y) in SynthGenerator.place(count, radius: radius, in: region, side: side, random: &random) {
            canvas.lesion(modality.findings[finding], x: x, y: y, r: radius, opacity: opacity, random: &random)
        }
        modality.finish(&canvas, &random)
        canvas.blur(radius: Float(knobs.blur) * Float(config.size) / 64)
        canvas.contrast(Float(knobs.contrast) * random.uniform(0.92, 1.08))
        canvas.noise(sigma: Float(knobs.noise), random: &random)
        return canvas.image
    }
}
