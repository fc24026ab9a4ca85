import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// The Python side of the torch backend as this machine has it: the interpreter, the `pipe_torch`
/// package's source (its digest) and the versions of the locked packages installed in that
/// interpreter. Found once per process (about half a second: package metadata only, no import).
public struct TorchEnvironment: Sendable {
    /// The interpreter: `$PIPE_PYTHON`, else `python:` of pipe.yaml, else this checkout's
    /// `.build/torchenv/bin/python` (made by `scripts/torch-env.sh`), else `python3`.
    public var interpreter: String
    /// The folder holding the `pipe_torch` package (the checkout's `python/`), put on PYTHONPATH.
    public var packageRoot: String
    /// The Merkle digest of `pipe_torch/`: a change of the backend's code re-runs its stages.
    public var source: Digest
    public var pythonVersion: String
    /// Every package of `python/requirements.lock` as installed: name -> version.
    public var packages: [String: String]
    /// Installed versions that differ from the lock, as `transformers 5.26.0 (lock 5.25.0)`.
    public var mismatches: [String]

    /// The `python:` setting of pipe.yaml; the command layer sets it before recipes are read.
    nonisolated(unsafe) public static var configuredInterpreter: String?

    private static let lock = NSLock()
    nonisolated(unsafe) private static var found: [String: Result<TorchEnvironment, TorchEnvironmentError>] = [:]

    /// The environment of the interpreter chosen as `interpreter` says, found once per process.
    public static func current() -> Result<TorchEnvironment, TorchEnvironmentError> {
        let interpreter = chosenInterpreter()
        return lock.withLock {
            if let known = found[interpreter] { return known }
            let result = Result { try discover(interpreter: interpreter) }.mapError { $0 as? TorchEnvironmentError ?? TorchEnvironmentError("\($0)") }
            if case .success(let environment) = result, !environment.mismatches.isEmpty {
                FileHandle.standardError.write(Data(("warning: the torch backend's packages differ from python/requirements.lock: "
                    + environment.mismatches.joined(separator: ", ") + " (their versions are in the key of every torch stage)\n").utf8))
            }
            found[interpreter] = result
            return result
        }
    }

    static func chosenInterpreter() -> String {
        if let named = ProcessInfo.processInfo.environment["PIPE_PYTHON"], !named.isEmpty { return named }
        if let configured = configuredInterpreter, !configured.isEmpty { return configured }
        if let root = checkoutRoot, FileManager.default.isExecutableFile(atPath: root + "/.build/torchenv/bin/python") {
            return root + "/.build/torchenv/bin/python"
        }
        return "python3"
    }

    /// The checkout this pipe was built in: the nearest folder above the executable holding
    /// `python/pipe_torch/`.
    static var checkoutRoot: String? {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        var directory = (executable as NSString).deletingLastPathComponent
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: directory + "/python/pipe_torch/__init__.py") { return directory }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return nil
    }

    private static func discover(interpreter: String) throws -> TorchEnvironment {
        guard let root = checkoutRoot else {
            throw TorchEnvironmentError("the torch backend's Python package (python/pipe_torch) is not beside this pipe executable",
                                        hint: "run the pipe built in a checkout of the repository (.build/release/pipe)")
        }
        let source = try sourceDigest(of: root + "/python/pipe_torch")
        let report = try versions(interpreter: interpreter, packageRoot: root + "/python")
        return TorchEnvironment(interpreter: interpreter, packageRoot: root + "/python", source: source, pythonVersion: report.python,
                                packages: report.packages, mismatches: report.mismatches.map { "\($0.name) \($0.installed) (lock \($0.locked))" })
    }

    private struct Report: Decodable {
        struct Mismatch: Decodable { var name, installed, locked: String }
        var python: String
        var executable: String
        var packages: [String: String]
        var mismatches: [Mismatch]
        var missing: [String]
    }

    /// `python -m pipe_torch env --no-import`: the locked packages' versions from their metadata.
    private static func versions(interpreter: String, packageRoot: String) throws -> Report {
        let install = "bash scripts/torch-env.sh (in the repository), or `pip install --no-deps -r python/requirements.lock` into \(interpreter)"
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = packageRoot
        let (status, output, errors) = capture([interpreter, "-m", "pipe_torch", "env", "--no-import"], environment: environment)
        if status == 127 {
            throw TorchEnvironmentError("the torch backend's interpreter `\(interpreter)` cannot be started",
                                        hint: "set PIPE_PYTHON (or `python:` in pipe.yaml) to a Python with the locked packages; \(install)")
        }
        guard let report = try? JSONDecoder().decode(Report.self, from: output) else {
            let said = String(decoding: errors, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no report"
            throw TorchEnvironmentError("the torch backend's interpreter `\(interpreter)` cannot report its packages: \(said)", hint: install)
        }
        let required = ["torch", "transformers", "trl"].filter(report.missing.contains)
        guard required.isEmpty else {
            throw TorchEnvironmentError("the torch backend needs \(required.joined(separator: ", ")), not installed in \(report.executable) "
                                        + "(python/requirements.lock pins torch \(pin("torch", root: packageRoot)), transformers \(pin("transformers", root: packageRoot)), trl \(pin("trl", root: packageRoot)))",
                                        hint: install)
        }
        return report
    }

    /// The digest of the package's `.py` files by name (compiled `__pycache__` files aside).
    static func sourceDigest(of directory: String) throws -> Digest {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".py") }.sorted()
        var listing = ""
        for name in names { listing += "\(name) \(try Digest.of(fileAt: directory + "/" + name).hex)\n" }
        return Digest.of(Data(listing.utf8))
    }

    /// Runs `arguments` (the first found on PATH) and returns its exit status (127: it could not
    /// start), standard output and standard error.
    static func capture(_ arguments: [String], environment: [String: String]) -> (status: Int32, output: Data, errors: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        let errorsFile = NSTemporaryDirectory() + "/pipe-torch-env-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: errorsFile, contents: nil), let errors = FileHandle(forWritingAtPath: errorsFile) else {
            return (127, Data(), Data())
        }
        defer { unlink(errorsFile) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (127, Data(), Data()) }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errors.close()
        return (process.terminationStatus, data, FileManager.default.contents(atPath: errorsFile) ?? Data())
    }

    /// The version `python/requirements.lock` pins `name` to.
    static func pin(_ name: String, root: String) -> String {
        let lock = (try? String(contentsOfFile: root + "/requirements.lock", encoding: .utf8)) ?? ""
        for line in lock.split(separator: "\n") where line.hasPrefix(name + "==") { return String(line.dropFirst(name.count + 2)) }
        return "?"
    }

    /// What enters a torch stage's key: the backend's code and the installed versions.
    public var keyMaterial: KeyValue {
        .map(["source": .string(source.hex), "python": .string(pythonVersion), "packages": .map(packages.mapValues { .string($0) })])
    }
}

/// The torch backend's environment cannot be used: what is missing, and the command that installs it.
public struct TorchEnvironmentError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var hint: String?
    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    public var description: String { message + (hint.map { "\n  hint: \($0)" } ?? "") }
}
