import ArgumentParser

/// The options every recipe command takes.
struct RecipeOptions: ParsableArguments {
    @Argument(help: "The recipe file (YAML).")
    var recipe: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a recipe value, e.g. params.reasoning=instruct or stages.train.with.epochs=3 (repeatable).", valueName: "path=value"))
    var sets: [String] = []

    @Option(help: "The cache directory (default: artifacts/ beside the nearest pipe.yaml, or $PIPE_CACHE).")
    var cache: String?

    func load() throws -> LoadedRecipe { try LoadedRecipe(file: recipe, sets: sets) }
    var project: Project { Project(cacheOption: cache) }
}

/// The options of commands that only need the cache.
struct CacheOptions: ParsableArguments {
    @Option(help: "The cache directory (default: artifacts/ beside the nearest pipe.yaml, or $PIPE_CACHE).")
    var cache: String?

    var project: Project { Project(cacheOption: cache) }
}
