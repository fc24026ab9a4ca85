import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Tree {
    /// The digest a file or directory would have in the store, computed without storing it:
    /// a file's SHA-256, or a directory's Merkle digest. Symbolic links are followed; anything that
    /// is not then a regular file or a directory (a FIFO, a device, a socket) is refused before it is
    /// opened, since reading one could block forever. A directory that links back into itself and a
    /// tree over `limits` are refused too.
    public static func digest(ofPath path: String, limits: Limits = .standard) throws -> Digest {
        var count = 0
        return try digest(ofPath: path, limits: limits, ancestors: [], count: &count)
    }

    /// A directory's identity on its file system, to notice a link back to an ancestor.
    private struct Identity: Hashable {
        var device: UInt
        var inode: UInt
    }

    private static func digest(ofPath path: String, limits: Limits, ancestors: Set<Identity>, count: inout Int) throws -> Digest {
        let info = try FileSystem.status(of: path)
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return try Digest.of(fileAt: path)
        case S_IFDIR:
            break
        default:
            throw EngineError.specialFile(path, FileSystem.describe(mode: info.st_mode))
        }
        let identity = Identity(device: UInt(info.st_dev), inode: UInt(info.st_ino))
        guard !ancestors.contains(identity) else {
            throw EngineError.io("\(path) is a link back to a directory that contains it (a cycle)")
        }
        guard ancestors.count < limits.maxDepth else {
            throw EngineError.io("\(path) is nested more than \(limits.maxDepth) directories deep, the limit per artifact")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        count += names.count
        guard count <= limits.maxEntries else {
            throw EngineError.io("\(path) holds more than \(limits.maxEntries) files and directories, the limit per artifact")
        }
        var entries: [Entry] = []
        for name in names {
            let child = path + "/" + name
            let childInfo = try FileSystem.status(of: child)
            switch childInfo.st_mode & S_IFMT {
            case S_IFDIR:
                let digest = try digest(ofPath: child, limits: limits, ancestors: ancestors.union([identity]), count: &count)
                entries.append(Entry(name: name, kind: .directory, digest: digest, size: nil))
            case S_IFREG:
                entries.append(Entry(name: name, kind: childInfo.st_mode & 0o100 != 0 ? .executable : .file,
                                     digest: try Digest.of(fileAt: child), size: Int(childInfo.st_size)))
            default:
                throw EngineError.specialFile(child, FileSystem.describe(mode: childInfo.st_mode))
            }
        }
        return Digest.of(Tree(entries: entries).encoded)
    }
}
