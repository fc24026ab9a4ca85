/// How hard the benchmark is. Presets set all five knobs; a recipe may override any of them.
public struct Difficulty: Equatable, Sendable {
    /// Standard deviation of additive Gaussian pixel noise, in [0, 1] intensity units.
    public var noise: Double
    /// Box-blur radius in pixels at 64x64 (scaled with the image size).
    public var blur: Double
    /// Global contrast: 1 leaves the image, lower values flatten it towards grey.
    public var contrast: Double
    /// Probability that a question's options are the answer's nearest classes (adjacent grades,
    /// neighbouring counts, look-alike diagnoses) rather than a random set of the modality's classes.
    public var distractorSimilarity: Double
    /// 0: lesions drawn at full opacity; 1: barely visible (opacity 0.25).
    public var lesionSubtlety: Double

    public init(noise: Double, blur: Double, contrast: Double, distractorSimilarity: Double, lesionSubtlety: Double) {
        self.noise = noise
        self.blur = blur
        self.contrast = contrast
        self.distractorSimilarity = distractorSimilarity
        self.lesionSubtlety = lesionSubtlety
    }

    /// The named presets: `easy`, `medium` (the default), `hard`.
    public static let presets: [String: Difficulty] = [
        "easy": Difficulty(noise: 0.02, blur: 0, contrast: 1, distractorSimilarity: 0, lesionSubtlety: 0),
        "medium": Difficulty(noise: 0.06, blur: 0.5, contrast: 0.85, distractorSimilarity: 0.5, lesionSubtlety: 0.35),
        "hard": Difficulty(noise: 0.12, blur: 1, contrast: 0.65, distractorSimilarity: 1, lesionSubtlety: 0.65),
    ]
}
