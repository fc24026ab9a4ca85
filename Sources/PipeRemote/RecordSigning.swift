import Crypto
import Foundation
import PipeEngine
#if canImport(Glibc)
import Glibc
#endif

/// A signer's public key with its name, as written in `pipe.yaml`'s `trusted-keys` and printed by
/// `pipe cache key`: `NAME:BASE64` (like Nix's `cache.example.org-1:6NCH...`).
public struct PublicSigningKey: Hashable, Sendable, CustomStringConvertible {
    /// Who the key belongs to, by convention `user@host`; letters, digits and `._@+-`.
    public let name: String
    /// The 32 bytes of the Ed25519 public key.
    public let raw: Data

    /// Parses `NAME:BASE64`; nil unless the name is well-formed and the key is 32 bytes.
    public init?(text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = String(text[..<colon])
        guard Self.isValidName(name), let raw = Data(base64Encoded: String(text[text.index(after: colon)...])), raw.count == 32 else {
            return nil
        }
        self.name = name
        self.raw = raw
    }

    init(name: String, raw: Data) {
        self.name = name
        self.raw = raw
    }

    public var description: String { "\(name):\(raw.base64EncodedString())" }

    /// Whether `signature` (base64) is this key's signature of `data`.
    func isValid(signature: String, for data: Data) -> Bool {
        guard let bytes = Data(base64Encoded: signature), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(bytes, for: data)
    }

    /// 1 to 64 of letters, digits and `._@+-`, starting with a letter or digit: safe to print and
    /// to paste into YAML.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64, isAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy(isNameCharacter)
    }

    static func isNameCharacter(_ c: Unicode.Scalar) -> Bool { isAlphanumeric(c) || "._@+-".unicodeScalars.contains(c) }

    private static func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }
}

/// The user's private signing key, with its name.
public struct SigningKey: Sendable {
    public let name: String
    let privateKey: Curve25519.Signing.PrivateKey

    /// A new random key.
    public init(name: String) {
        self.name = name
        privateKey = Curve25519.Signing.PrivateKey()
    }

    init(name: String, privateKey: Curve25519.Signing.PrivateKey) {
        self.name = name
        self.privateKey = privateKey
    }

    public var publicKey: PublicSigningKey { PublicSigningKey(name: name, raw: privateKey.publicKey.rawRepresentation) }

    /// `record` with this key's signature of its fingerprint.
    public func sign(_ record: ActionRecord) throws -> ActionRecord {
        var signed = record
        let value = try privateKey.signature(for: record.fingerprint)
        signed.signature = RecordSignature(signer: publicKey.description, value: value.base64EncodedString())
        return signed
    }

    /// The key file's text: `NAME:BASE64` of the 32-byte private key, and a newline.
    var fileText: String { "\(name):\(privateKey.rawRepresentation.base64EncodedString())\n" }

    /// Parses a key file's text; nil when it is not `NAME:BASE64` of 32 bytes.
    init?(fileText: String) {
        let line = fileText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let name = String(line[..<colon])
        guard PublicSigningKey.isValidName(name), let raw = Data(base64Encoded: String(line[line.index(after: colon)...])), raw.count == 32,
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else { return nil }
        self.init(name: name, privateKey: key)
    }
}

/// Where the user's signing key lives: `$PIPE_SIGNING_KEY`, else `$XDG_CONFIG_HOME/pipe/signing-key`,
/// else `~/.config/pipe/signing-key`. It is made on first use (mode 0600, in one step), named
/// `$PIPE_SIGNING_KEY_NAME` or `user@host`.
public final class SigningKeyFile: @unchecked Sendable {
    public let path: String
    let newName: String
    private let lock = NSLock()
    private var loaded: SigningKey?

    public init(path: String, newName: String) {
        self.path = path
        self.newName = newName
    }

    /// The key file `environment` points at.
    public convenience init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path: String
        if let explicit = environment["PIPE_SIGNING_KEY"], !explicit.isEmpty {
            path = explicit
        } else if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") {
            path = config + "/pipe/signing-key"
        } else {
            path = (environment["HOME"] ?? NSHomeDirectory()) + "/.config/pipe/signing-key"
        }
        self.init(path: path, newName: Self.defaultName(environment: environment))
    }

    /// `$PIPE_SIGNING_KEY_NAME`, else `user@host` with anything but `._@+-`, letters and digits made `-`.
    static func defaultName(environment: [String: String]) -> String {
        if let name = environment["PIPE_SIGNING_KEY_NAME"], !name.isEmpty { return name }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(cString: host).split(separator: ".").first.map(String.init) ?? "host"
        let account = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) }
        let user = environment["USER"] ?? environment["LOGNAME"] ?? account ?? String(getuid())
        let cleaned = String(String.UnicodeScalarView("\(user)@\(hostName)".unicodeScalars.map { PublicSigningKey.isNameCharacter($0) ? $0 : "-" }))
        return PublicSigningKey.isValidName(cleaned) ? cleaned : "pipe-\(getuid())"
    }

    /// The key if the file exists; throws when it exists but cannot be used.
    public func existing() throws -> SigningKey? {
        try lock.withLock { try loadLocked() }
    }

    /// The key, made now if there is none.
    public func loadOrCreate() throws -> SigningKey {
        try lock.withLock {
            if let key = try loadLocked() { return key }
            guard PublicSigningKey.isValidName(newName) else {
                throw RemoteError.configuration("signing key name `\(newName)` (PIPE_SIGNING_KEY_NAME): use 1 to 64 letters, digits and ._@+-, e.g. alice@lab")
            }
            try create(SigningKey(name: newName))
            guard let key = try loadLocked() else { throw RemoteError.local("signing key \(path) vanished as it was made") }
            return key
        }
    }

    private func loadLocked() throws -> SigningKey? {
        if let loaded { return loaded }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw RemoteError.configuration("cannot read signing key \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size < 4096 else { throw RemoteError.configuration("signing key \(path) is not a key file") }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(format: "%04o", Int(info.st_mode & 0o7777))
            throw RemoteError.configuration("signing key \(path) is open to other users (mode \(mode))\n  hint: chmod 600 \(path)")
        }
        let text = FileHandle(fileDescriptor: fd, closeOnDealloc: false).readDataToEndOfFile()
        guard let key = SigningKey(fileText: String(decoding: text, as: UTF8.self)) else {
            throw RemoteError.configuration("signing key \(path) is not `NAME:BASE64` of an Ed25519 key\n  hint: move it away; `pipe cache key` makes a new one (colleagues then trust the new public key)")
        }
        loaded = key
        return key
    }

    /// Writes the key to a private temporary file beside `path`, then links it into place, so that
    /// the file appears whole or not at all, and a key another process made first is kept.
    private func create(_ key: SigningKey) throws {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RemoteError.configuration("cannot make \(directory) for the signing key: \(error.localizedDescription)")
        }
        let temporary = "\(path).\(getpid()).\(UUID().uuidString.prefix(8)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RemoteError.configuration("cannot write signing key \(temporary): \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        let bytes = Array(key.fileText.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else { throw RemoteError.configuration("cannot write signing key \(temporary): \(String(cString: strerror(errno)))") }
        if link(temporary, path) != 0, errno != EEXIST {
            throw RemoteError.configuration("cannot create signing key \(path): \(String(cString: strerror(errno)))")
        }
    }
}
