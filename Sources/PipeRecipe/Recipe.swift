/// A validated recipe: a named DAG of stages with parameters, ready for planning.
public struct Recipe: Sendable {
    /// The recipe file as it was named (used in messages).
    public var file: String
    public var name: String
    public var seed: Int
    /// The resolved `params` tree.
    public var params: Node
    /// Stages in the order they were written.
    public var stages: [Stage]

    /// The stage named `name`.
    public func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// The seed a stage runs with: its pinned `seed:`, or one derived from the recipe seed and its name.
    public func seed(for stage: Stage) -> Int {
        stage.seed ?? Recipe.deriveSeed(recipeSeed: seed, stageName: stage.name)
    }

    /// A 31-bit seed from the recipe seed and a stage name (FNV-1a of the name, mixed by SplitMix64),
    /// the same on every platform; 31 bits so any tool's seed argument accepts it.
    public static func deriveSeed(recipeSeed: Int, stageName: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in stageName.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        var z = hash ^ UInt64(bitPattern: Int64(recipeSeed)) &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Int(z & 0x7fff_ffff)
    }
}

/// One stage of a recipe.
public struct Stage: Sendable {
    /// An upstream stage mounted under a role name.
    public struct Input: Sendable, Equatable {
        public var role: String
        public var stage: String
        public var location: SourceLocation
    }

    /// A local file or directory whose content enters the cache key, relative to the recipe's directory.
    public struct Dependency: Sendable, Equatable {
        public var path: String
        public var location: SourceLocation

        public init(path: String, location: SourceLocation) {
            self.path = path
            self.location = location
        }
    }

    public var name: String
    public var location: SourceLocation
    public var kind: String
    public var inputs: [Input]
    /// The resolved `with` mapping (empty when absent).
    public var with: Node
    public var seed: Int?
    /// `command` stages only.
    public var command: String?
    public var deps: [Dependency]
    /// Declared environment variables, in written order.
    public var env: [(name: String, value: String)]
    /// What the stage asks of a cluster scheduler; not part of the cache key.
    public var resources = StageResources()
}

/// The keys a recipe and its stages may have.
public enum RecipeSchema {
    public static let topLevelKeys = ["pipe", "name", "description", "seed", "params", "stages"]
    public static let stageKeys = ["kind", "description", "inputs", "with", "seed", "command", "deps", "env", "resources"]
    /// Fields that belong to `command` stages only.
    public static let commandOnlyKeys: Set<String> = ["command", "deps", "env"]
    /// The recipe format version this pipe reads.
    public static let formatVersion = 1
}
