/// The sizes past which a recipe, an experiment or the command line is refused rather than read:
/// each is far above what a real recipe needs, and below what would exhaust the stack, the memory
/// or the user's patience. README.md ("Limits") lists them.
public enum RecipeLimits {
    /// Values in one YAML document, counting each use of an alias in full (an alias bomb stops here).
    public static let maxValues = 100_000
    /// How deeply lists and mappings nest, in a file and in a value after `${params…}` interpolation.
    public static let maxDepth = 64
    /// Bytes of text in a recipe after `${params…}` interpolation.
    public static let maxTextBytes = 4 << 20
    /// Variants of an ablation grid (cells times seeds).
    public static let maxVariants = 1_000
    /// Overrides of one recipe: `--set`, plus an experiment's `set:` and axes.
    public static let maxOverrides = 1_000

    static func tooDeep(_ location: SourceLocation, path: String = "") -> RecipeError {
        RecipeError(location, path: path, "lists and mappings nested deeper than \(maxDepth) levels",
                    hint: "a recipe needs a few levels; flatten the value")
    }
}
