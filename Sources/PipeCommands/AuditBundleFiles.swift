import Foundation
import PipeEngine

/// The files a bundle carries so that a reviewer can re-execute the run without the author's
/// checkout or cache, in `objects/` (laid out like a cache's objects): every `deps` file or
/// directory of the recipe's command stages (`deps.json` names each path); and of each recorded
/// output its listings, its metrics and the files no execution reproduces (`timing.csv`), so that
/// the audit can compare a re-execution with the record and, when it reproduces, hand the stages
/// after it their input exactly as the run recorded it.
enum AuditBundleFiles {
    /// One carried dependency: its path as the recipe writes it, and its content.
    struct Dependency: Codable, Equatable {
        var path: String
        var digest: String
        /// `file`, `executable` or `directory`.
        var type: String
    }

    /// Every `deps` path of the run's stages with the digest the run read: from the key material
    /// of the stage's record (today's recipe, where the cache has none).
    static func dependencies(of audit: Audit) -> [(path: String, digest: Digest)] {
        var found: [String: Digest] = [:]
        for job in audit.pipeline.jobs {
            let key = audit.recorded[job.name]?.key.flatMap(Digest.init(hex:))
            let recorded = key.flatMap { try? audit.cache.actions.record(for: $0) }?.material
            guard case .map(let material) = recorded ?? job.material, case .map(let deps)? = material["deps"] else { continue }
            for (path, value) in deps {
                if case .string(let hex) = value, let digest = Digest(hex: hex) { found[path] = digest }
            }
        }
        return found.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Copies the dependencies (read from beside the recipe) into `bundle/objects`, each checked against
    /// the digest its stage's key holds, and writes `bundle/deps.json`. Returns how many it carried;
    /// an absolute path is not carried (the reviewer needs it at the same place).
    static func export(_ audit: Audit, to bundle: String) throws -> Int {
        let recipeFile = audit.run.recipeFile
        let store = try FileContentStore(root: bundle + "", temporaryDirectory: bundle + "/tmp")
        let recipeDirectory = (recipeFile as NSString).deletingLastPathComponent
        var carried: [Dependency] = []
        for (path, digest) in dependencies(of: audit) where !path.hasPrefix("/") {
            let source = recipeDirectory.isEmpty ? path : recipeDirectory + "/" + path
            let copy = bundle + "/tmp/copy-\(UUID().uuidString.prefix(8))"
            try copyFollowingLinks(source, to: copy)
            let type: String
            let stored: Digest
            var info = stat()
            if stat(copy, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                (type, stored) = ("directory", try Tree.ingest(directory: copy, into: store).digest)
                FileSystem.removeTree(copy)
            } else {
                type = info.st_mode & 0o100 != 0 ? "executable" : "file"
                stored = try store.ingest(fileAt: copy).digest
            }
            guard stored == digest else {
                throw UsageError("dependency `\(path)` (\(source)) changed since the run (\(stored.short), the run read \(digest.short)); the bundle cannot carry what the run read", hint: "restore the file as it was (from version control), then export again")
            }
            carried.append(Dependency(path: path, digest: digest.hex, type: type))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(carried).write(to: URL(fileURLWithPath: bundle + "/deps.json"))
        return carried.count
    }

    /// Writes the bundle's recipe text and its carried dependencies into a new `workspace` folder, laid
    /// out as beside the original recipe (nested as deep as the deepest `../` needs), and returns the
    /// recipe's path there. Each dependency is written from the cache, where `importObjects` put it.
    static func workspace(from bundle: String, recipeFile: String, recipeText: Data, in workspace: String, cache: Cache) throws -> String {
        let data = FileManager.default.contents(atPath: bundle + "/deps.json") ?? Data("[]".utf8)
        guard let carried = try? JSONDecoder().decode([Dependency].self, from: data) else {
            throw UsageError("\(bundle)/deps.json is not a list of dependencies", hint: "export the bundle again with `pipe audit --export RUN DIR`")
        }
        let climbs = carried.map { $0.path.split(separator: "/").prefix { $0 == ".." }.count }.max() ?? 0
        let originalDirectory = (recipeFile as NSString).deletingLastPathComponent.split(separator: "/").map(String.init)
        let nesting = (Array(originalDirectory.suffix(climbs)) + Array(repeating: "_", count: max(0, climbs - originalDirectory.count)))
        let directory = ([workspace] + nesting).joined(separator: "/")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let recipe = directory + "/" + (recipeFile as NSString).lastPathComponent
        try recipeText.write(to: URL(fileURLWithPath: recipe))
        let store = try FileContentStore(root: bundle + "", temporaryDirectory: bundle + "/tmp")
        for dependency in carried {
            guard let digest = Digest(hex: dependency.digest), !dependency.path.hasPrefix("/"),
                  !dependency.path.split(separator: "/").dropFirst(climbs).contains("..") else {
                throw UsageError("\(bundle)/deps.json: `\(dependency.path)` is not a dependency a bundle can carry")
            }
            let target = directory + "/" + dependency.path
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if dependency.type == "directory" {
                try Tree.materialize(digest, from: cache.objects, into: target)
            } else {
                try cache.objects.materialize(digest, to: target, executable: dependency.type == "executable")
            }
        }
        return recipe
    }

    /// Stores the listings of the tree `output` and its files that a re-execution cannot give back
    /// (wall-clock files) or that a comparison reads (metrics) into `bundle/objects`.
    static func exportOutput(_ output: Digest, from cache: Cache, to bundle: String) throws {
        let store = try FileContentStore(root: bundle, temporaryDirectory: bundle + "/tmp")
        let walked = try Tree.walk(output, in: cache.objects)
        for listing in walked.listings { try store.write(try cache.objects.read(listing)) }
        for file in walked.files {
            let name = (file.path as NSString).lastPathComponent
            guard TreeDiff.volatileNames.contains(name) || name == "metrics.json" || name == "smoothing.json" else { continue }
            try store.write(try cache.objects.read(file.entry.digest))
        }
    }

    /// Copies every object the bundle carries into `cache`, each verified as it is read.
    static func importObjects(from bundle: String, into cache: Cache) throws {
        guard FileManager.default.fileExists(atPath: bundle + "/objects") else { return }
        let store = try FileContentStore(root: bundle, temporaryDirectory: cache.temporaryDirectory)
        for digest in try store.allObjects() where !cache.objects.contains(digest) {
            do {
                try cache.objects.write(try store.read(digest))
            } catch {
                throw UsageError("\(bundle)/objects", cause: error, hint: "the bundle is damaged; ask for it again")
            }
        }
    }

    /// Copies a file or a directory, following symbolic links as `deps` hashing does.
    static func copyFollowingLinks(_ source: String, to target: String) throws {
        var info = stat()
        guard stat(source, &info) == 0 else {
            throw UsageError("cannot read dependency \(source): \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
            for name in try FileManager.default.contentsOfDirectory(atPath: source) {
                try copyFollowingLinks(source + "/" + name, to: target + "/" + name)
            }
        case S_IFREG:
            try Data(contentsOf: URL(fileURLWithPath: source)).write(to: URL(fileURLWithPath: target), options: .withoutOverwriting)
            chmod(target, info.st_mode & 0o777)
        default:
            throw UsageError("dependency \(source) is \(FileSystem.describe(mode: info.st_mode)), not a file or directory")
        }
    }
}
