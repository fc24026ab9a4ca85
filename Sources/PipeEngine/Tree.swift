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

    /// Parses a listing.
    public init(decoding data: Data, digest: Digest) throws {
        guard let text = String(data: data, encoding: .utf8) else {
            throw EngineError.corruptObject(digest, detail: "tree listing is not UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == "pipe-tree 1" else { throw EngineError.corruptObject(digest, detail: "not a tree listing") }
        lines.removeFirst()
        if lines.last == "" { lines.removeLast() }
        entries = try lines.map { line in
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, let kind = Kind(rawValue: String(parts[0])), let entryDigest = Digest(hex: String(parts[1])) else {
                throw EngineError.corruptObject(digest, detail: "bad tree line `\(line)`")
            }
            return Entry(name: String(parts[3]), kind: kind, digest: entryDigest, size: Int(parts[2]))
        }
    }

    public init(entries: [Entry]) { self.entries = entries }

    /// Moves the files under `directory` into `store` and returns the tree's digest. The directory is
    /// consumed. Links, devices and names with a newline are refused.
    public static func ingest(directory: String, into store: ContentStore) throws -> (digest: Digest, files: Int, bytes: Int) {
        var entries: [Entry] = []
        var files = 0, bytes = 0
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        for name in names {
            guard !name.contains("\n") else {
                throw EngineError.unsupportedOutput("output file name \(name.debugDescription) contains a newline")
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
                let sub = try ingest(directory: path, into: store)
                entries.append(Entry(name: name, kind: .directory, digest: sub.digest, size: nil))
                files += sub.files
                bytes += sub.bytes
            case S_IFLNK:
                throw EngineError.unsupportedOutput("output `\(name)` is a symbolic link; write a regular file (copy it) instead")
            default:
                throw EngineError.unsupportedOutput("output `\(name)` is not a regular file or directory")
            }
        }
        return (try store.write(Tree(entries: entries).encoded), files, bytes)
    }

    /// Reads a tree listing, verified.
    public static func load(_ digest: Digest, from store: ContentStore) throws -> Tree {
        try Tree(decoding: try store.read(digest), digest: digest)
    }

    /// Writes the tree's files under `directory` (which must not exist), verifying every object.
    public static func materialize(_ digest: Digest, from store: ContentStore, into directory: String) throws {
        let tree = try load(digest, from: store)
        try FileSystem.makeDirectory(directory)
        for entry in tree.entries {
            let path = directory + "/" + entry.name
            switch entry.kind {
            case .directory: try materialize(entry.digest, from: store, into: path)
            case .file, .executable: try store.materialize(entry.digest, to: path, executable: entry.kind == .executable)
            }
        }
    }

    /// Every file of a tree with its relative path, and the digests of every listing in it.
    public static func walk(_ digest: Digest, in store: ContentStore) throws -> (files: [(path: String, entry: Entry)], listings: [Digest]) {
        var files: [(String, Entry)] = []
        var listings: [Digest] = []
        func visit(_ digest: Digest, prefix: String) throws {
            listings.append(digest)
            for entry in try load(digest, from: store).entries {
                let path = prefix.isEmpty ? entry.name : prefix + "/" + entry.name
                if entry.kind == .directory { try visit(entry.digest, prefix: path) } else { files.append((path, entry)) }
            }
        }
        try visit(digest, prefix: "")
        return (files, listings)
    }
}

extension Tree {
    /// The digest a file or directory would have in the store, computed without storing it:
    /// a file's SHA-256, or a directory's Merkle digest (links followed).
    public static func digest(ofPath path: String) throws -> Digest {
        var info = stat()
        guard stat(path, &info) == 0 else { throw EngineError.io("no such file or directory") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return try Digest.of(fileAt: path) }
        var entries: [Entry] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            let child = path + "/" + name
            var childInfo = stat()
            guard stat(child, &childInfo) == 0 else { throw EngineError.io("cannot read \(child)") }
            if (childInfo.st_mode & S_IFMT) == S_IFDIR {
                entries.append(Entry(name: name, kind: .directory, digest: try digest(ofPath: child), size: nil))
            } else {
                entries.append(Entry(name: name, kind: childInfo.st_mode & 0o100 != 0 ? .executable : .file,
                                     digest: try Digest.of(fileAt: child), size: Int(childInfo.st_size)))
            }
        }
        return Digest.of(Tree(entries: entries).encoded)
    }
}
