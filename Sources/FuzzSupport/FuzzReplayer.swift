import Foundation

/// The `main` of a fuzz target when it is not built for fuzzing: runs each file named on the
/// command line, and each file in a named folder, through the target once, so that a corpus or a
/// folder of former crashes serves as a regression check in any build. `make fuzz` builds the
/// targets with `-D FUZZING -sanitize=fuzzer` instead, where libFuzzer's `main` calls the target's
/// `LLVMFuzzerTestOneInput` and the same command line reruns single inputs.
public enum FuzzReplayer {
    /// Replays the command line's files through `body` and exits: 0 when none crashed, 2 for a bad
    /// command line. `body` must not crash, hang or exhaust memory on any input.
    public static func main(_ body: (Data) -> Void) -> Never {
        exit(run(Array(CommandLine.arguments.dropFirst()), body))
    }

    static func run(_ arguments: [String], _ body: (Data) -> Void) -> Int32 {
        let program = URL(fileURLWithPath: CommandLine.arguments.first ?? "fuzz").lastPathComponent
        guard !arguments.isEmpty, !arguments.contains(where: { $0.hasPrefix("-") }) else {
            FileHandle.standardError.write(Data("""
                usage: \(program) FILE-OR-FOLDER...
                  runs each input through the target once (this build does not fuzz: `make fuzz` builds one that does)

                """.utf8))
            return 2
        }
        var count = 0
        var slowest: (file: String, seconds: Double)?
        for argument in arguments {
            guard let files = files(at: argument) else {
                FileHandle.standardError.write(Data("\(program): cannot read \(argument)\n".utf8))
                return 2
            }
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("\(program): cannot read \(file)\n".utf8))
                    return 2
                }
                print("\(program): \(file)")
                fflush(stdout)  // so that a crash follows the name of its input
                let start = DispatchTime.now().uptimeNanoseconds
                body(data)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if seconds > slowest?.seconds ?? -1 { slowest = (file, seconds) }
                count += 1
            }
        }
        let slow = slowest.map { String(format: "; slowest %@ in %.3f s", $0.file, $0.seconds) } ?? ""
        print("\(program): \(count) inputs, none crashed\(slow)")
        return 0
    }

    /// `path` itself when it is a file; the files in it (not its subfolders, nor hidden files),
    /// sorted, when it is a folder; nil when it does not exist.
    static func files(at path: String) -> [String]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        guard isDirectory.boolValue else { return [path] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }.filter { file in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: file, isDirectory: &isFolder) && !isFolder.boolValue
        }
    }
}
