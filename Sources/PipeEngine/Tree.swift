import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A directory tree addressed by a Merkle digest: a listing of its entries, sorted by name, stored
/// as an object, whose subdirectories are listings of their own.
///
/// Listing format, one entry a line after the header `pipe-tree 1`:
/// `f <digest> <size> <name>` (file), `x ...` (executable file), `d <digest> - <name>` (directory).
public struct Tree: Equatable, Sendable {
    public enum Kind: String, Sendable { case file = "f", executable = "x", directory = "d" }

    public struct Entry: Equatable, Sendable {
        public var name: String
        public var kind: Kind
        public var digest: Digest
        /// Bytes of a file; nil for a directory.
        public var size: Int?
    }

    public var entries: [Entry]

    /// The listing's bytes; their digest is the tree's digest.
    public var encoded: Data {
        var text = "pipe-tree 1\n"
        for entry in entries.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            text += "\(entry.kind.rawValue) \(entry.digest.hex) \(entry.size.map(String.init) ?? "-") \(entry.name)\n"
        }
        return Data(text.utf8)
    }

    /// Parses a listing. A listing whose entry names could leave its directory (empty, `.`, `..`,
    /// containing `/`, NUL or a newline), names an entry twice, or has more entries than
    /// `Limits.standard` allows is refused as a corrupt object: it cannot have come from `ingest`.
    public init(decoding data: Data, digest: Digest) throws {
        guard data.count(where: { $0 == 0x0a }) <= Limits.standard.maxEntries + 1 else {
            throw EngineError.treeTooLarge(digest, "its listing has more than \(Limits.standard.maxEntries) entries, the limit per artifact")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EngineError.corruptObject(digest, detail: "tree listing is not UTF-8")
        }
        // Lines split on Characters keep a `\r\n` inside a name (one Character) in its line, where
        // the name check refuses it; fields split on the space byte, since a space followed by a
        // combining mark is one Character too.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == "pipe-tree 1" else { throw EngineError.corruptObject(digest, detail: "not a tree listing") }
        lines.removeFirst()
        if lines.last == "" { lines.removeLast() }
        var seen = Set<String>()
        entries = try lines.map { line in
            let parts = Array(line.utf8).split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
                .map { Substring(String(decoding: $0, as: UTF8.self)) }
            guard parts.count == 4, let kind = Kind(rawValue: String(parts[0])), let entryDigest = Digest(hex: String(parts[1])) else {
                throw EngineError.corruptObject(digest, detail: "bad tree line `\(line)`")
            }
            let name = String(parts[3])
            if let problem = Self.problem(withName: name) {
                throw EngineError.corruptObject(digest, detail: "tree listing names an entry \(Self.quoted(name)), which \(problem); refused")
            }
            guard seen.insert(name).inserted else {
                throw EngineError.corruptObject(digest, detail: "tree listing names the entry \(Self.quoted(name)) twice; refused")
            }
            let size: Int?
            if kind == .directory {
                guard parts[2] == "-" else { throw EngineError.corruptObject(digest, detail: "bad tree line `\(line)`: a directory has no size") }
                size = nil
            } else {
                guard let bytes = Int(parts[2]), bytes >= 0 else {
                    throw EngineError.corruptObject(digest, detail: "bad tree line `\(line)`: a file's size is a whole number")
                }
                size = bytes
            }
            return Entry(name: name, kind: kind, digest: entryDigest, size: size)
        }
    }

    /// Why `name` cannot be an entry of a listing (it would not name one file inside the listing's
    /// directory), or nil when it can.
    public static func problem(withName name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name == ".." { return "would leave its directory" }
        if name == "." { return "would name the directory itself" }
        if name.contains("/") { return "contains `/`" }
        if name.unicodeScalars.contains("\0") { return "contains a NUL byte" }
        if name.unicodeScalars.contains("\n") { return "contains a newline" }
        // Before the newline that ends its line, a carriage return would make one Character of both.
        if name.unicodeScalars.contains("\r") { return "contains a carriage return" }
        return nil
    }

    /// A name as shown in messages: in backquotes, or escaped when it holds control characters.
    static func quoted(_ name: String) -> String {
        name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f } ? name.debugDescription : "`\(name)`"
    }

    public init(entries: [Entry]) { self.entries = entries }

    /// Moves the files under `directory` into `store` and returns the tree's digest. The directory is
    /// consumed. Links, devices, names a listing cannot hold and trees over `limits` are refused.
    public static func ingest(directory: String, into store: ContentStore,
                              limits: Limits = .standard) throws -> (digest: Digest, files: Int, bytes: Int) {
        var count = 0
        return try ingest(directory: directory, into: store, limits: limits, depth: 1, count: &count)
    }

    private static func ingest(directory: String, into store: ContentStore, limits: Limits, depth: Int,
                               count: inout Int) throws -> (digest: Digest, files: Int, bytes: Int) {
        guard depth <= limits.maxDepth else {
            throw EngineError.unsupportedOutput("the output nests directories more than \(limits.maxDepth) deep, the limit per artifact")
        }
        var entries: [Entry] = []
        var files = 0, bytes = 0
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        count += names.count
        guard count <= limits.maxEntries else {
            throw EngineError.unsupportedOutput("the output has more than \(limits.maxEntries) files and directories, the limit per artifact")
        }
        for name in names {
            if let problem = problem(withName: name) {
                throw EngineError.unsupportedOutput("output file name \(quoted(name)) \(problem)")
            }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { throw EngineError.io("cannot stat \(path)") }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                let executable = info.st_mode & 0o100 != 0
                let (digest, size) = try store.ingest(fileAt: path)
                entries.append(Entry(name: name, kind: executable ? .executable : .file, digest: digest, size: size))
                files += 1
                bytes += size
            case S_IFDIR:
                let sub = try ingest(directory: path, into: store, limits: limits, depth: depth + 1, count: &count)
                entries.append(Entry(name: name, kind: .directory, digest: sub.digest, size: nil))
                files += sub.files
                bytes += sub.bytes
            case S_IFLNK:
                throw EngineError.unsupportedOutput("output `\(name)` is a symbolic link; write a regular file (copy it) instead")
            default:
                throw EngineError.unsupportedOutput("output `\(name)` is \(FileSystem.describe(mode: info.st_mode)), not a regular file or directory")
            }
        }
        return (try store.write(Tree(entries: entries).encoded), files, bytes)
    }

    /// Reads a tree listing, verified.
    public static func load(_ digest: Digest, from store: ContentStore) throws -> Tree {
        try Tree(decoding: try store.read(digest), digest: digest)
    }
}
