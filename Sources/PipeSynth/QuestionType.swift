/// OmniMedVQA's five question types, as the synthetic benchmark asks them.
public enum QuestionType: String, CaseIterable, Sendable {
    case modality = "Modality Recognition"
    case anatomy = "Anatomy Identification"
    case diagnosis = "Disease Diagnosis"
    case grading = "Lesion Grading"
    case attribute = "Other Biological Attributes"

    /// The step in a stepwise chain (Med-R2: modality -> anatomy -> finding -> diagnosis); the
    /// finding step is the lesion's grade. Biological-attribute questions stand outside chains.
    public var chainStep: Int? {
        switch self {
        case .modality: return 1
        case .anatomy: return 2
        case .grading: return 3
        case .diagnosis: return 4
        case .attribute: return nil
        }
    }

    /// Short name used in question ids.
    var slug: String {
        switch self {
        case .modality: return "modality"
        case .anatomy: return "anatomy"
        case .diagnosis: return "diagnosis"
        case .grading: return "grade"
        case .attribute: return "attribute"
        }
    }

    /// Chain order: modality, anatomy, grade (the finding), diagnosis, then the attribute.
    static let recordOrder: [QuestionType] = [.modality, .anatomy, .grading, .diagnosis, .attribute]

    /// Paraphrases of the question; which one is asked is random and says nothing about the answer.
    func templates(for modality: Modality) -> [String] {
        let noun = modality.lesionNoun
        switch self {
        case .modality:
            return ["What imaging modality was used to acquire this image?",
                    "Which imaging technique produced this image?",
                    "What type of medical image is this?"]
        case .anatomy:
            return ["Which anatomical region is shown in this image?",
                    "What region or tissue does this \(modality.name) image show?",
                    "Identify the anatomy shown in this image."]
        case .diagnosis:
            return ["What is the most likely diagnosis?",
                    "Which abnormality is present in this \(modality.name) image?",
                    "What finding does this image show?"]
        case .grading:
            return ["What grade best describes the extent of the abnormality?",
                    "How severe is the abnormality in this image?",
                    "Grade the size of the abnormal finding in this \(modality.name) image."]
        case .attribute:
            switch modality.attribute {
            case .count:
                return ["How many \(noun)s are visible in this image?",
                        "Count the \(noun)s in this image.",
                        "What is the number of \(noun)s shown?"]
            case .laterality:
                return ["On which side of the image is the \(noun)?",
                        "Is the \(noun) in the left or the right half of the image?",
                        "Where is the \(noun), on the left or the right side of the image?"]
            }
        }
    }
}

/// A question's options: which classes are offered, in display order, and where the answer is.
///
/// The set is drawn first and the answer uniformly within it, so that, given the question and its
/// options, every option is equally likely to be right: nothing but the image tells the answer.
struct OptionDraw: Equatable {
    /// Class indices in display order (A first).
    var classes: [Int]
    /// Position of the answer in `classes`.
    var answer: Int
    /// The answer's class.
    var label: Int { classes[answer] }

    /// Draws `k` (uniform in `counts`, at most `classCount`) classes: with probability `similarity`
    /// a run of neighbouring classes, otherwise a uniformly random subset; shuffled; answer uniform.
    static func draw(classCount: Int, counts: ClosedRange<Int>, similarity: Float, random: inout SynthRandom) -> OptionDraw {
        let k = min(classCount, counts.lowerBound + random.int(counts.count))
        var chosen: [Int]
        if random.chance(similarity) {
            let start = random.int(classCount - k + 1)
            chosen = Array(start..<(start + k))
        } else {
            chosen = Array(random.shuffled(Array(0..<classCount)).prefix(k))
        }
        chosen = random.shuffled(chosen)
        return OptionDraw(classes: chosen, answer: random.int(k))
    }
}
