import ArgumentParser
import Foundation
import PipeRecipe
#if canImport(Glibc)
import Glibc
#endif

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

extension RecipeOptions {
    /// Refuses more `--set` (or `--axis`) options than a recipe may take, before the arguments are
    /// parsed: the argument parser takes minutes over thousands of repeated options.
    static func checkRepeatedOptions(_ arguments: [String]) throws {
        for option in ["--set", "--axis"] {
            let count = arguments.lazy.filter { $0 == option || $0.hasPrefix(option + "=") }.count
            if count > RecipeLimits.maxOverrides {
                throw UsageError("\(count) \(option) options, more than the limit of \(RecipeLimits.maxOverrides)\n"
                                 + "  hint: change the recipe or the experiment itself")
            }
        }
    }
}

/// The options of commands that only need the cache.
struct CacheOptions: ParsableArguments {
    @Option(help: "The cache directory (default: artifacts/ beside the nearest pipe.yaml, or $PIPE_CACHE).")
    var cache: String?

    var project: Project { Project(cacheOption: cache) }
}

/// The files a command is given (a recipe, an experiment), read whole, with the reason when one
/// cannot be: missing, a directory, not permitted (the system's words), or not UTF-8 (where).
enum InputFile {
    /// The text of `path`; `what` names it in messages ("recipe"), `hint` follows a missing file's.
    static func text(_ path: String, what: String, hint: String) throws -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw UsageError("cannot read \(what) \(path): it is a directory, not a file")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw UsageError("cannot read \(what) \(path): no such file", hint: "\(hint)") }
            throw UsageError("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw UsageError("cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            data.append(contentsOf: buffer[..<count])
        }
        return try SourceText.decode(data, file: path)
    }
}
