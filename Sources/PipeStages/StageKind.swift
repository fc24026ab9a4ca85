import PipeEngine
import PipeRecipe

/// A `kind:` a recipe stage can have: how its options are checked and what it does.
public protocol StageKind: Sendable {
    /// The name written in recipes.
    var name: String { get }
    /// The implementation version; it enters the cache key, so bumping it re-runs the kind's stages.
    var version: Int { get }
    /// The `with:` options of a built-in kind; nil for a kind whose `with` is free-form.
    var schema: OptionSchema? { get }
    /// Checks the stage's `with` options (throwing a `RecipeError` at the bad value) and returns
    /// them with defaults filled in.
    func options(of stage: Stage) throws -> Value
    /// What the stage does when it is not cached.
    func action(for stage: ResolvedStage) throws -> JobAction
}

extension StageKind {
    public var schema: OptionSchema? { nil }

    /// Checks `with` against the schema, or takes it as it is when there is none.
    public func options(of stage: Stage) throws -> Value {
        guard let schema else { return stage.with.value }
        return try schema.resolve(stage.with, path: "stages.\(stage.name).with")
    }
}

/// A stage with everything resolved that its action needs.
public struct ResolvedStage: Sendable {
    public var stage: Stage
    public var recipeName: String
    /// The directory the recipe file is in; relative paths resolve against it.
    public var recipeDirectory: String
    public var seed: Int
    /// The checked `with` options.
    public var options: Value
}

/// The stage kinds this pipe knows.
public struct KindRegistry: Sendable {
    public let kinds: [String: any StageKind]

    public init(_ kinds: [any StageKind]) {
        var table: [String: any StageKind] = [:]
        for kind in kinds { table[kind.name] = kind }
        self.kinds = table
    }

    /// Every built-in kind.
    public static let builtIn = KindRegistry([CommandKind(), GRPOKind(), GRPOKind(adversarial: true), EvaluateKind(), ReportKind(), SFTKind(), SmoothKind(), SynthKind(), UnpackKind()])

    /// Kind names, sorted, for recipe validation and hints.
    public var names: [String] { kinds.keys.sorted() }

    public func kind(_ name: String) -> (any StageKind)? { kinds[name] }
}
