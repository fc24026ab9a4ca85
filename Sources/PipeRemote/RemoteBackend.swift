import Foundation
import PipeEngine

/// What went wrong talking to a remote.
public enum RemoteError: Error, CustomStringConvertible, Equatable {
    /// The remote cannot be reached (connection refused, no route, DNS): the run goes on without it.
    case unreachable(String)
    /// A request started but did not finish (timeout, reset, truncated body).
    case transfer(String)
    /// The server answered with an error status.
    case status(Int, String)
    /// A downloaded object does not hash to its name: discarded, never used.
    case corrupt(String)
    /// A local file operation failed.
    case local(String)
    /// A remote setting that cannot work.
    case configuration(String)
    /// A valid record that the trust policy does not accept (unsigned, badly signed, unknown signer).
    case untrusted(Distrust)

    public var description: String {
        switch self {
        case .unreachable(let text), .transfer(let text), .corrupt(let text), .local(let text), .configuration(let text): return text
        case .status(let code, let text): return "HTTP \(code) \(text)"
        case .untrusted(let distrust): return distrust.description
        }
    }

    /// Whether the remote's settings are at fault (an untrusted certificate, say): every request fails alike.
    public var isConfiguration: Bool {
        if case .configuration = self { return true }
        return false
    }

    /// Whether trying again may help (the remote is down or slow).
    public var isTransient: Bool {
        switch self {
        case .unreachable, .transfer: return true
        case .status(let code, _): return code >= 500 || code == 429 || code == 408
        default: return false
        }
    }
}

/// A remote's transport: bytes at relative paths (`objects/ab/cdef...`, `actions/ab/KEY.json`).
/// Implementations are safe to call from many threads at once.
public protocol RemoteBackend: AnyObject, Sendable {
    /// The remote as it may be shown: no credentials.
    var displayName: String { get }
    /// Downloads `path` into the new file `file`, returning the SHA-256 of the bytes, or nil when
    /// the remote has no such path (no file is left then).
    func download(_ path: String, to file: String) throws -> Digest?
    /// The bytes at `path`, or nil when there are none.
    func read(_ path: String) throws -> Data?
    /// Stores the file `file` at `path`, replacing what is there in one step (a reader sees the old
    /// bytes or the new, never a part).
    func upload(file: String, to path: String) throws
    /// Stores `data` at `path`, in one step.
    func upload(_ data: Data, to path: String) throws
    /// Whether `path` exists.
    func exists(_ path: String) throws -> Bool
    /// The names under the directory `path` (`actions/ab`), or nil when the remote cannot list.
    func list(_ path: String) throws -> [String]?
}

/// How much a remote may send and how slowly: a hostile or stuck server can neither fill memory
/// or the disk nor hold a transfer forever.
public struct RemoteLimits: Sendable, Equatable {
    /// Bytes a record (`actions/...json`) may have.
    public var record = 4 << 20
    /// Bytes a directory listing (one page of it) may have.
    public var listing = 32 << 20
    /// Bytes an object download may have.
    public var object = 64 << 30
    /// Bytes per second a transfer must average once its grace (6 x the timeout) is spent.
    public var minimumRate = 256 << 10

    public init() {}
}

/// How to reach a remote and how patient to be.
public struct RemoteSettings: Sendable, Equatable {
    /// A directory (`/mnt/shared/pipe-cache`, `file:///...`), `http(s)://host:port/path/` or `s3://bucket/prefix`.
    public var location: String
    /// Seconds a connect, a TLS handshake or a wait for the next bytes may take.
    public var timeout: Double = 10
    /// Attempts after the first for a transient failure, with doubling waits from `backoff` seconds.
    public var retries: Int = 2
    public var backoff: Double = 0.2
    /// Transfers at once.
    public var parallel: Int = 8
    /// A PEM bundle of certificate authorities trusted for https besides the system's (a lab's own CA).
    public var caFile: String?
    public var limits = RemoteLimits()

    public init(location: String, timeout: Double = 10, retries: Int = 2, backoff: Double = 0.2, parallel: Int = 8, caFile: String? = nil) {
        self.location = location
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.parallel = parallel
        self.caFile = caFile
    }

    /// The backend for `location`. An S3 remote takes its endpoint and credentials from
    /// `environment`; https trusts the system's authorities (or `SSL_CERT_FILE`'s) and `caFile`'s.
    public func backend(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RemoteBackend {
        if location.hasPrefix("http://") || location.hasPrefix("https://") {
            return try HTTPBackend(url: location, settings: self, environment: environment)
        }
        if location.hasPrefix("s3://") {
            guard let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"] else {
                throw RemoteError.configuration("remote \(location): set AWS_ENDPOINT_URL to the S3 server "
                                                + "(https://s3.REGION.amazonaws.com, or http(s)://host:port for a server of the lab's)")
            }
            return try HTTPBackend(s3: location, endpoint: endpoint, signer: try S3Signer.fromEnvironment(environment), settings: self,
                                   environment: environment)
        }
        var path = location
        if path.hasPrefix("file://") { path = String(path.dropFirst("file://".count)) }
        guard path.hasPrefix("/") else {
            throw RemoteError.configuration("remote `\(location)`: expected an absolute directory (/mnt/shared/pipe-cache) or http(s)://host:port/path/")
        }
        return try DirectoryBackend(root: path)
    }
}
