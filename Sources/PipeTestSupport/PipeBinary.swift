import Foundation

/// Runs the built `pipe` executable, as a user would, and captures what it prints.
public enum PipeBinary {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `pipe` built beside the test bundle, or `$PIPE_BINARY`.
    public static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["PIPE_BINARY"] { return explicit }
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let binary = candidate.appendingPathComponent("pipe").path
            if FileManager.default.isExecutableFile(atPath: binary) { return binary }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/pipe").path
    }

    /// Starts `pipe` with `arguments` in `directory` without waiting.
    public static func start(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var variables = ProcessInfo.processInfo.environment
        variables["PIPE_CACHE"] = nil
        variables["TERM"] = "dumb"
        for (name, value) in environment { variables[name] = value }
        process.environment = variables
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    /// Runs `pipe` with `arguments` in `directory` and waits for it.
    @discardableResult
    public static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Output {
        let (process, out, err) = try start(arguments, in: directory, environment: environment)
        return finish(process, out, err)
    }

    /// Waits for a started `pipe` and collects its output.
    public static func finish(_ process: Process, _ out: Pipe, _ err: Pipe) -> Output {
        let group = DispatchGroup()
        nonisolated(unsafe) var stdout = Data(), stderr = Data()
        group.enter()
        DispatchQueue.global().async {
            stdout = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        stderr = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}
