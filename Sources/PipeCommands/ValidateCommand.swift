import ArgumentParser

/// `pipe validate RECIPE`: checks a recipe without running anything.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check a recipe and its overrides; run nothing.")

    @OptionGroup var options: RecipeOptions

    func run() throws {
        let loaded = try options.load()
        let stages = loaded.recipe.stages
        print("\(loaded.file): ok: recipe `\(loaded.recipe.name)`, \(stages.count) stage\(stages.count == 1 ? "" : "s") (\(Set(stages.map(\.kind)).sorted().joined(separator: ", ")))")
    }
}
