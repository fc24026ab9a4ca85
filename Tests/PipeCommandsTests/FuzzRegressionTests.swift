import Foundation
import PipeTestSupport
import Testing

/// The inputs `make fuzz` found or was given for each known class of hostile input (alias and
/// reference bombs, deep JSON, images declaring huge sizes, listing names that do not round-trip),
/// and the seed corpora, replayed once through the fuzz targets' ordinary builds: none may crash,
/// and each must return (a fixed class that came back would crash, hang or run out of memory).
struct FuzzRegressionTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test(arguments: ["recipe", "qa-json", "image", "cache-records"])
    func regressionsAndSeedsReplayWithoutACrash(target: String) throws {
        let replayer = URL(fileURLWithPath: PipeBinary.path).deletingLastPathComponent().appendingPathComponent("fuzz-\(target)").path
        let folders = ["fuzz/regressions/\(target)", "fuzz/corpus/\(target)"].map { Self.repository + "/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0) }
        #expect(!folders.isEmpty)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: replayer)
        process.arguments = folders
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && output.contains("none crashed"), "\(output.suffix(2000))")
    }
}
