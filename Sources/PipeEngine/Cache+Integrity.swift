import Foundation

extension Cache {
    /// Checks a cached output before a hit uses it, without hashing its files: every listing is
    /// read and verified (names, duplicates, `Tree.Limits`), and every file is present with the size
    /// its listing gives. A file's content is hashed where it is read (inputs, `pipe get`,
    /// `pipe cache verify`).
    public func checkOutput(_ output: Digest) throws {
        for (path, entry) in try Tree.walk(output, in: objects).files {
            guard let size = objects.size(of: entry.digest) else {
                throw EngineError.corruptObject(entry.digest, detail: "file \(path) of the output is missing from the cache")
            }
            guard size == entry.size else {
                throw EngineError.corruptObject(entry.digest, detail: "file \(path) is stored with \(size) bytes, not the \(entry.size ?? 0) its listing gives")
            }
        }
    }

    /// The output and log of `key` when its record is present and its output passes `checkOutput`;
    /// nil on a miss (no record, or the output's root listing gone, as after `pipe cache gc`).
    /// Throws what is wrong with a damaged hit or an unreadable record.
    public func checkedHit(_ key: Digest) throws -> (output: Digest, log: Digest?)? {
        guard let hit = try actions.hit(for: key), objects.contains(hit.output) else { return nil }
        try checkOutput(hit.output)
        return hit
    }

    /// Forgets a damaged result: its record, and the object `error` names when it is a corrupted
    /// one, so that recomputing the stage stores it afresh.
    func discard(_ key: Digest, because error: Error) {
        if case .corruptObject(let digest, _)? = error as? EngineError, digest != key { try? objects.remove(digest) }
        try? actions.remove(key)
    }
}
