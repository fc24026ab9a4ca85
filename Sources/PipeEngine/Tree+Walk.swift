import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Tree {
    /// Bounds on one artifact, in the manner of an archive's (`ArchiveLimits.maxEntries`): a listing
    /// names its subdirectories by digest, so a few small objects can describe millions of paths.
    /// A tree over a bound is refused before anything is fetched, written or walked past it.
    public struct Limits: Sendable, Equatable {
        /// Most files and directories in one artifact, each path counted (a listing reached twice
        /// counts twice).
        public var maxEntries: Int
        /// Most directories nested in one another.
        public var maxDepth: Int

        public init(maxEntries: Int = 4_000_000, maxDepth: Int = 256) {
            self.maxEntries = maxEntries
            self.maxDepth = maxDepth
        }

        /// The bounds every read of a tree applies.
        public static let standard = Limits()

        func tooMany(_ root: Digest) -> EngineError {
            .treeTooLarge(root, "it has more than \(maxEntries) files and directories, the limit per artifact")
        }

        func tooDeep(_ root: Digest) -> EngineError {
            .treeTooLarge(root, "it nests directories more than \(maxDepth) deep, the limit per artifact")
        }
    }

    /// Every listing of a tree, each loaded (and verified) once, after checking the whole tree
    /// against `limits`: nothing is built from a tree before all of it is known to be acceptable.
    public static func listings(of root: Digest, in store: ContentStore, limits: Limits = .standard) throws -> [Digest: Tree] {
        var trees: [Digest: Tree] = [:]
        // Per listing: the paths under it and the depth of its deepest directory (itself: 1).
        var measured: [Digest: (entries: Int, height: Int)] = [:]
        func measure(_ digest: Digest, depth: Int) throws -> Int {
            if let known = measured[digest] {
                guard depth - 1 + known.height <= limits.maxDepth else { throw limits.tooDeep(root) }
                return known.entries
            }
            guard depth <= limits.maxDepth else { throw limits.tooDeep(root) }
            let tree = try load(digest, from: store)
            trees[digest] = tree
            var entries = tree.entries.count, height = 1
            for entry in tree.entries where entry.kind == .directory {
                entries += try measure(entry.digest, depth: depth + 1)
                guard entries <= limits.maxEntries else { throw limits.tooMany(root) }
                height = max(height, 1 + measured[entry.digest]!.height)
            }
            guard entries <= limits.maxEntries else { throw limits.tooMany(root) }
            measured[digest] = (entries, height)
            return entries
        }
        _ = try measure(root, depth: 1)
        return trees
    }

    /// Writes the tree's files under `directory`, which must not exist (its parents are created),
    /// verifying every object. Each directory and file is created new (`mkdir`, `link` or
    /// `O_CREAT|O_EXCL`), so nothing already at a path, such as a planted symbolic link, is followed.
    /// On failure the directory is removed again.
    public static func materialize(_ digest: Digest, from store: ContentStore, into directory: String,
                                   limits: Limits = .standard) throws {
        let trees = try listings(of: digest, in: store, limits: limits)
        try FileSystem.makeDirectory((directory as NSString).deletingLastPathComponent)
        try FileSystem.makeNewDirectory(directory)
        do {
            try write(trees[digest]!, listings: trees, from: store, into: directory)
        } catch {
            FileSystem.removeTree(directory)
            throw error
        }
    }

    private static func write(_ tree: Tree, listings: [Digest: Tree], from store: ContentStore, into directory: String) throws {
        for entry in tree.entries {
            let path = directory + "/" + entry.name
            switch entry.kind {
            case .directory:
                try FileSystem.makeNewDirectory(path)
                try write(listings[entry.digest]!, listings: listings, from: store, into: path)
            case .file, .executable:
                try store.materialize(entry.digest, to: path, executable: entry.kind == .executable)
            }
        }
    }

    /// Every file of a tree with its relative path, and the digests of every listing in it.
    public static func walk(_ digest: Digest, in store: ContentStore,
                            limits: Limits = .standard) throws -> (files: [(path: String, entry: Entry)], listings: [Digest]) {
        let trees = try listings(of: digest, in: store, limits: limits)
        var files: [(String, Entry)] = []
        var listings: [Digest] = []
        func visit(_ digest: Digest, prefix: String) {
            listings.append(digest)
            for entry in trees[digest]!.entries {
                let path = prefix.isEmpty ? entry.name : prefix + "/" + entry.name
                if entry.kind == .directory { visit(entry.digest, prefix: path) } else { files.append((path, entry)) }
            }
        }
        visit(digest, prefix: "")
        return (files, listings)
    }
}
