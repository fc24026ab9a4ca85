import PipeRandom

/// Train/validation/test assignment of records.
public enum Split: String, Codable, Sendable, CaseIterable {
    case train, val, test
}

/// How to split a dataset.
public struct SplitPlan: Sendable, Equatable {
    public var test: Double
    public var val: Double
    /// Every record of these modalities goes to test and the other modalities give none to test
    /// (Med-R1's cross-modality protocol: train on some modalities, test on others).
    public var holdoutModalities: Set<String>
    /// When not empty, train and validation keep only records of these modalities / question types;
    /// test keeps every record (Med-R1's cross-modality matrix: train on one, test on all). The
    /// assignment does not depend on them, so every choice gets the same test split.
    public var trainModalities: Set<String>
    public var trainQuestionTypes: Set<String>

    public init(test: Double = 0.2, val: Double = 0.1, holdoutModalities: Set<String> = [],
                trainModalities: Set<String> = [], trainQuestionTypes: Set<String> = []) {
        self.test = test
        self.val = val
        self.holdoutModalities = holdoutModalities
        self.trainModalities = trainModalities
        self.trainQuestionTypes = trainQuestionTypes
    }

    /// Whether a record assigned to `split` stays in the dataset under the train filters.
    public func keeps(split: Split, modality: String, questionType: String) -> Bool {
        split == .test || ((trainModalities.isEmpty || trainModalities.contains(modality))
                           && (trainQuestionTypes.isEmpty || trainQuestionTypes.contains(questionType)))
    }

    /// Assigns each record a split. Records of one image stay together (a chain of questions about
    /// an image never straddles train and test); images are shuffled by `seed` within strata of
    /// modality x question types, and each stratum gives `round(n * test)` images to test and
    /// `round(n * val)` to val.
    public func assign(_ records: [VQARecord], seed: UInt64) -> [Split] {
        assign(imagePaths: records.map(\.imagePath), modalities: records.map(\.modality),
               questionTypes: records.map(\.questionType), seed: seed)
    }

    /// `assign` for records given as their image paths, modalities and question types.
    public func assign(imagePaths: [String], modalities: [String], questionTypes: [String], seed: UInt64) -> [Split] {
        var imageIndex: [String: Int] = [:]
        imageIndex.reserveCapacity(imagePaths.count)
        let images = imagePaths.map { path in
            imageIndex[path] ?? {
                imageIndex[path] = imageIndex.count
                return imageIndex.count - 1
            }()
        }
        return assign(images: images, modalities: modalities, questionTypes: questionTypes, seed: seed)
    }

    /// `assign` for records given as the number of their image (any non-negative numbering with one
    /// number per image), modalities and question types.
    func assign(images imageNumbers: [Int], modalities: [String], questionTypes: [String], seed: UInt64) -> [Split] {
        // Images in order of first appearance; records grouped by image (offsets into `byImage`).
        var imageIndex = [Int](repeating: -1, count: (imageNumbers.max() ?? -1) + 1)
        var imageOf = [Int](repeating: 0, count: imageNumbers.count)
        var firstRecord: [Int] = []
        for (i, number) in imageNumbers.enumerated() {
            if imageIndex[number] >= 0 {
                imageOf[i] = imageIndex[number]
            } else {
                imageOf[i] = firstRecord.count
                imageIndex[number] = firstRecord.count
                firstRecord.append(i)
            }
        }
        var offsets = [Int](repeating: 0, count: firstRecord.count + 1)
        for image in imageOf { offsets[image + 1] += 1 }
        for image in firstRecord.indices { offsets[image + 1] += offsets[image] }
        var byImage = [Int](repeating: 0, count: imageNumbers.count), filled = offsets
        for (i, image) in imageOf.enumerated() {
            byImage[filled[image]] = i
            filled[image] += 1
        }
        // Strata: the image's modality and the set of its question types, named
        // `modality|type+type` (types sorted); the name is built once per distinct stratum.
        var typeIDs: [String: Int] = [:], typeNames: [String] = []
        let typeOf = questionTypes.map { type -> Int in
            if let id = typeIDs[type] { return id }
            typeIDs[type] = typeNames.count
            typeNames.append(type)
            return typeNames.count - 1
        }
        struct StratumID: Hashable { var modality: String; var types: [Int] }
        var stratumNames: [StratumID: String] = [:]
        var strata: [String: [Int]] = [:]
        for image in firstRecord.indices {
            let types = Set(byImage[offsets[image]..<offsets[image + 1]].map { typeOf[$0] }).sorted()
            let id = StratumID(modality: modalities[firstRecord[image]], types: types)
            let name = stratumNames[id] ?? {
                let name = id.modality + "|" + types.map { typeNames[$0] }.sorted().joined(separator: "+")
                stratumNames[id] = name
                return name
            }()
            strata[name, default: []].append(image)
        }
        var splits = [Split](repeating: .train, count: imageNumbers.count)
        var random = SeededRandom(seed: seed)
        for key in strata.keys.sorted() {
            var images = strata[key]!
            images.shuffle(using: &random)
            let heldOut = holdoutModalities.contains(modalities[firstRecord[images[0]]])
            let testCount = heldOut ? images.count : holdoutModalities.isEmpty ? Int((Double(images.count) * test).rounded()) : 0
            let valCount = heldOut ? 0 : Int((Double(images.count) * val).rounded())
            for (position, image) in images.enumerated() {
                let split: Split = position < testCount ? .test : position < testCount + valCount ? .val : .train
                for k in offsets[image]..<offsets[image + 1] { splits[byImage[k]] = split }
            }
        }
        return splits
    }
}
