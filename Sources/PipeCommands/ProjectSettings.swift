import Foundation
import PipeRecipe
import PipeRemote

/// Machine and team settings, from `pipe.yaml` at the project root and the environment; never
/// from recipes.
///
/// ```yaml
/// remote: http://cache.lab:8080/pipe/        # or /mnt/shared/pipe-cache
/// # or, with transfer settings:
/// remote: {url: https://cache.lab/pipe/, timeout: 10, retries: 2, parallel: 8, ca-file: /etc/lab-ca.pem}
/// trusted-keys: ["alice@lab:BASE64..."]   # whose signed results are used (`pipe cache key` prints yours)
/// python: /opt/envs/vlm/bin/python          # the torch backend's interpreter (PIPE_PYTHON wins)
/// # a private remote only you write to may skip signatures:
/// remote: {url: /mnt/me/pipe-cache, require-signatures: false}
/// ```
/// `PIPE_REMOTE` (a location, or `none`; it requires signatures), `PIPE_REMOTE_TIMEOUT`,
/// `PIPE_REMOTE_RETRIES` and `PIPE_REMOTE_CA_FILE` (read by `RemoteSettings.backend`) override the
/// file. `executor:` (see `ExecutorSettings`) says where stages execute.
struct ProjectSettings {
    var remote: RemoteSettings?
    var executor = ExecutorSettings()
    /// Which remote records are used: `trusted-keys`, `remote.require-signatures` (the user's own
    /// key is added when the remote is opened).
    var trust = TrustPolicy()
    /// `python:`, the torch backend's interpreter: a command on PATH, or a path (relative to pipe.yaml).
    var python: String?

    static let keys = ["remote", "executor", "trusted-keys", "python"]
    static let remoteKeys = ["url", "timeout", "retries", "parallel", "require-signatures", "ca-file"]

    /// Reads `file` (nil: no pipe.yaml) and the environment.
    static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProjectSettings {
        var settings = ProjectSettings()
        if let file, let data = FileManager.default.contents(atPath: file) {
            settings = try parse(String(decoding: data, as: UTF8.self), file: file)
        }
        if let location = environment["PIPE_REMOTE"], !location.isEmpty {
            settings.trust.requireSignatures = true
            settings.remote = location == "none" ? nil : RemoteSettings(location: location, timeout: settings.remote?.timeout ?? 10,
                                                                         retries: settings.remote?.retries ?? 2, parallel: settings.remote?.parallel ?? 8,
                                                                         caFile: settings.remote?.caFile)
        }
        if let name = environment["PIPE_EXECUTOR"], !name.isEmpty {
            settings.executor.kind = try ExecutorSettings.kind(name, origin: "PIPE_EXECUTOR")
        }
        if settings.remote != nil {
            if let text = environment["PIPE_REMOTE_TIMEOUT"] {
                guard let timeout = Double(text), timeout > 0 else { throw UsageError("PIPE_REMOTE_TIMEOUT=\(text): expected seconds, e.g. 10") }
                settings.remote?.timeout = timeout
            }
            if let text = environment["PIPE_REMOTE_RETRIES"] {
                guard let retries = Int(text), retries >= 0 else { throw UsageError("PIPE_REMOTE_RETRIES=\(text): expected a count, e.g. 2") }
                settings.remote?.retries = retries
            }
        }
        return settings
    }

    static func parse(_ text: String, file: String) throws -> ProjectSettings {
        let root = try YAMLReader.read(text, file: file)
        if case .null = root.content { return ProjectSettings() }
        guard let entries = root.entries else { throw RecipeError(root.location, path: "", "pipe.yaml is a mapping of project settings, e.g. `remote: /mnt/shared/pipe-cache`") }
        var settings = ProjectSettings()
        for entry in entries where !keys.contains(entry.key) {
            let hint = Suggestions.hint(for: entry.key, in: keys)
            throw RecipeError(entry.keyLocation, path: entry.key, "unknown project setting `\(entry.key)`", hint: hint ?? "pipe.yaml knows: \(keys.joined(separator: ", "))")
        }
        if let executor = root["executor"] { settings.executor = try ExecutorSettings.parse(executor, file: file) }
        if let keys = root["trusted-keys"] { settings.trust.trustedKeys = try trustedKeys(keys) }
        if let node = root["python"] {
            guard let python = node.string, !python.isEmpty else {
                throw RecipeError(node.location, path: "python", "expected an interpreter, e.g. `python: /opt/envs/vlm/bin/python`")
            }
            let directory = (file as NSString).deletingLastPathComponent
            settings.python = python.contains("/") && !python.hasPrefix("/") ? directory + "/" + python : python
        }
        guard let node = root["remote"] else { return settings }
        if let location = node.string {
            settings.remote = RemoteSettings(location: location)
            return settings
        }
        guard let fields = node.entries else {
            throw RecipeError(node.location, path: "remote", "expected a location or a mapping with `url`", hint: "e.g. remote: http://cache.lab:8080/pipe/")
        }
        for entry in fields where !remoteKeys.contains(entry.key) {
            throw RecipeError(entry.keyLocation, path: "remote.\(entry.key)", "unknown remote setting `\(entry.key)`", hint: "remote takes \(remoteKeys.joined(separator: ", "))")
        }
        guard let url = node["url"]?.string else { throw RecipeError(node.location, path: "remote.url", "a remote mapping needs `url`") }
        var remote = RemoteSettings(location: url)
        if let timeout = node["timeout"] {
            guard let seconds = Self.number(timeout), seconds > 0 else { throw RecipeError(timeout.location, path: "remote.timeout", "expected seconds > 0, got \(timeout.typeName)") }
            remote.timeout = seconds
        }
        for (key, minimum) in [("retries", 0), ("parallel", 1)] {
            guard let value = node[key] else { continue }
            guard case .int(let count) = value.content, count >= minimum else {
                throw RecipeError(value.location, path: "remote.\(key)", "expected an integer >= \(minimum), got \(value.typeName)")
            }
            if key == "retries" { remote.retries = count } else { remote.parallel = count }
        }
        if let require = node["require-signatures"] {
            guard case .bool(let flag) = require.content else {
                throw RecipeError(require.location, path: "remote.require-signatures", "expected true or false, got \(require.typeName)")
            }
            settings.trust.requireSignatures = flag
        }
        if let caFile = node["ca-file"] {
            guard let path = caFile.string, !path.isEmpty else {
                throw RecipeError(caFile.location, path: "remote.ca-file", "expected the path of a PEM file of CA certificates, got \(caFile.typeName)")
            }
            // Relative to pipe.yaml's directory.
            remote.caFile = path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
        }
        settings.remote = remote
        return settings
    }

    /// `trusted-keys: ["NAME:BASE64", ...]`, each a public key as `pipe cache key` prints it.
    static func trustedKeys(_ node: Node) throws -> [PublicSigningKey] {
        let example = "trusted-keys: [\"alice@lab:BASE64...\"], each line as `pipe cache key` prints it"
        if case .null = node.content { return [] }
        guard case .list(let items) = node.content else {
            throw RecipeError(node.location, path: "trusted-keys", "expected a list of public keys, got \(node.typeName)", hint: example)
        }
        return try items.enumerated().map { index, item in
            let path = "trusted-keys[\(index)]"
            guard let text = item.string else {
                throw RecipeError(item.location, path: path, "expected a public key `NAME:BASE64`, got \(item.typeName)", hint: example)
            }
            guard let key = PublicSigningKey(text: text) else {
                let shown = text.count > 80 ? String(text.prefix(77)) + "..." : text
                throw RecipeError(item.location, path: path, "`\(shown)` is not a public key `NAME:BASE64` (a name of letters, digits and ._@+-, "
                                  + "a colon, then 32 bytes in base64)", hint: example)
            }
            return key
        }
    }

    private static func number(_ node: Node) -> Double? {
        switch node.content {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }
}
