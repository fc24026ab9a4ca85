import PipeEngine
import PipeRecipe

/// A `kind:` a recipe stage can have: how its options are checked and what it does.
public protocol StageKind: Sendable {
    /// The name written in recipes.
    var name: String { get }
    /// What the kind does, in one line (`pipe kinds`).
    var summary: String { get }
    /// The input roles it reads (`inputs:` of a stage); `pipe kinds` and the docs list them.
    var inputs: [KindInput] { get }
    /// The files it writes to its output.
    var outputs: [KindOutput] { get }
    /// The implementation version; it enters the cache key, so bumping it re-runs the kind's stages.
    var version: Int { get }
    /// The `with:` options of a built-in kind; nil for a kind whose `with` is free-form.
    var schema: OptionSchema? { get }
    /// The options of the torch backend that differ from `schema`'s (`backend`, its `model`,
    /// `threads`); nil for a kind with one implementation.
    var torchOptions: OptionSchema? { get }
    /// The options `stage` is checked against: `schema`, or its backend's (an ML kind on torch).
    func schema(for stage: Stage) throws -> OptionSchema?
    /// Checks the stage's `with` options (throwing a `RecipeError` at the bad value) and returns
    /// them with defaults filled in.
    func options(of stage: Stage) throws -> Value
    /// What the stage's backend adds to its key (the torch backend's code and package versions);
    /// nil for a stage on pipe's own implementation.
    func backendMaterial(for stage: Stage) throws -> KeyValue?
    /// What the stage does when it is not cached.
    func action(for stage: ResolvedStage) throws -> JobAction
}

extension StageKind {
    public var schema: OptionSchema? { nil }
    public var inputs: [KindInput] { [] }
    public var outputs: [KindOutput] { [] }
    public func schema(for stage: Stage) throws -> OptionSchema? { schema }
    public var torchOptions: OptionSchema? { nil }
    public func backendMaterial(for stage: Stage) throws -> KeyValue? { nil }

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

    /// The checked options, to be read through the kind's option keys.
    public var values: OptionValues {
        OptionValues(options, location: stage.with.location, path: "stages.\(stage.name).with")
    }
}

/// An input role a kind reads.
public struct KindInput: Sendable {
    public var role: String
    /// What it should be, e.g. "an unpack stage" (messages name it).
    public var what: String
    public var required: Bool
    /// More about it, for `pipe kinds` and the docs.
    public var note: String

    public init(_ role: String, _ what: String, required: Bool = true, note: String = "") {
        self.role = role
        self.what = what
        self.required = required
        self.note = note
    }

    /// What it should be, with the note.
    public var description: String { note.isEmpty ? what : what + "; " + note }
}

/// A file (or a family of files) a kind writes to its output.
public struct KindOutput: Sendable {
    public var file: String
    public var what: String

    public init(_ file: String, _ what: String) {
        self.file = file
        self.what = what
    }
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

    /// The kinds, sorted by name.
    public var all: [any StageKind] { names.compactMap { kinds[$0] } }

    /// Kind names, sorted, for recipe validation and hints.
    public var names: [String] { kinds.keys.sorted() }

    public func kind(_ name: String) -> (any StageKind)? { kinds[name] }
}
