import Foundation
import PipeEngine
import PipeRecipe

/// Maps a validated recipe to the engine's jobs: each stage's key material and action.
///
/// Key material (`KeyValue` map): `kind`, `version`, `with` (with each `path` option replaced by
/// `sha256:<content digest>`), `seed`, and for `command` stages `command`, `env` and `deps`
/// (relative path -> content digest), for a stage on the torch backend `backend` (the backend's
/// code digest and installed package versions). The engine adds `inputs`.
public struct JobBuilder: Sendable {
    public let registry: KindRegistry

    public init(registry: KindRegistry = .builtIn) { self.registry = registry }

    /// The jobs of `recipe`, read from `recipeFile` (its directory anchors relative paths).
    public func jobs(for recipe: Recipe, recipeFile: String) throws -> [Job] {
        let directory = URL(fileURLWithPath: recipeFile).deletingLastPathComponent().path
        return try recipe.stages.map { stage in
            guard let kind = registry.kind(stage.kind) else {
                throw RecipeError(stage.location, path: "stages.\(stage.name).kind", "unknown kind `\(stage.kind)`",
                                  hint: Suggestions.hint(for: stage.kind, in: registry.names))
            }
            let options = try kind.options(of: stage)
            let seed = recipe.seed(for: stage)
            var keyed = options
            for path in try kind.schema(for: stage)?.pathOptions ?? [] {
                guard case .string(let file)? = options.lookup(path) else { continue }
                let location = stage.with.lookup(path)?.location ?? stage.location
                let dependency = Stage.Dependency(path: file, location: location)
                let digest = try Self.digest(of: dependency, in: directory, stage: stage,
                                             field: "stages.\(stage.name).with." + path.joined(separator: "."))
                keyed = keyed.replacing(path, with: .string("sha256:" + digest.hex))
            }
            var material: [String: KeyValue] = [
                "kind": .string(kind.name),
                "version": .int(kind.version),
                "with": KeyValue(keyed),
                "seed": .int(seed),
            ]
            if let backend = try kind.backendMaterial(for: stage) { material["backend"] = backend }
            if let command = stage.command {
                material["command"] = .string(command)
                var env: [String: KeyValue] = [:]
                for variable in stage.env { env[variable.name] = .string(variable.value) }
                material["env"] = .map(env)
                var deps: [String: KeyValue] = [:]
                for dependency in stage.deps {
                    deps[dependency.path] = .string(try Self.digest(of: dependency, in: directory, stage: stage,
                                                                    field: "stages.\(stage.name).deps").hex)
                }
                material["deps"] = .map(deps)
            }
            let resolved = ResolvedStage(stage: stage, recipeName: recipe.name, recipeDirectory: directory,
                                         seed: seed, options: options)
            return Job(name: stage.name, kind: kind.name,
                       inputs: stage.inputs.map { Job.Input(role: $0.role, job: $0.stage) },
                       material: .map(material), action: try kind.action(for: resolved),
                       resources: stage.resources.fields)
        }
    }

    /// A dependency's content digest: a file's SHA-256, or a directory's Merkle digest. A FIFO, a
    /// device or a socket (or a link to one, or one inside a directory) is refused unopened.
    static func digest(of dependency: Stage.Dependency, in directory: String, stage: Stage, field: String) throws -> Digest {
        let path = dependency.path.hasPrefix("/") ? dependency.path : directory + "/" + dependency.path
        do {
            return try Tree.digest(ofPath: path)
        } catch {
            var hint = "relative paths resolve against the recipe's directory"
            if case .specialFile? = error as? EngineError {
                hint = "name regular files or directories (links to them are followed): reading a FIFO, device or socket could block, and its content is no fixed input"
            }
            throw RecipeError(dependency.location, path: field,
                              "cannot read dependency `\(dependency.path)` (\(path)): \(error)", hint: hint)
        }
    }
}
