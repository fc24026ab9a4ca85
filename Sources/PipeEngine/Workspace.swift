import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A worker's directory for running stages: `out/` (the artifact being written), `in/<role>/`
/// (inputs, read-only), `log` and scratch files. It is reused from stage to stage, because on some
/// file systems (ext4 without a journal) creating inodes slows down with every one recently deleted.
final class Workspace {
    let root: String
    var output: String { root + "/out" }
    var inputs: String { root + "/in" }
    var log: String { root + "/log" }
    /// The stage's progress line (`$PIPE_PROGRESS`).
    var progress: String { root + "/progress" }
    private var created = false

    init(in temporaryDirectory: String) {
        root = FileSystem.temporaryPath(in: temporaryDirectory, suffix: "-worker")
    }

    /// Empties the workspace for the next stage and creates its log.
    func prepare() throws {
        if created {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name != "out" && name != "in" {
                FileSystem.removeTree(root + "/" + name)
            }
            FileSystem.removeContents(of: output)
            FileSystem.removeContents(of: inputs)
        } else {
            try FileSystem.makeDirectory(root)
            try FileSystem.makeDirectory(output)
            try FileSystem.makeDirectory(inputs)
            created = true
        }
        try FileSystem.write(Data(), toNewFile: log)
    }

    /// Deletes the workspace.
    func remove() {
        if created { FileSystem.removeTree(root) }
    }
}
