import Foundation
import PipeEngine
@testable import PipeRemote
import PipeTestSupport
import Testing

/// Two on-disk caches ("me" and "a colleague") sharing one remote: a shared directory, a real
/// nginx with WebDAV or a real S3 server on loopback, over http and https.
@Suite(.serialized)
struct RemoteCacheTests {
    /// A chain `data -> train -> eval` whose actions count their executions; `train` writes a
    /// nested directory and a 3 MB file. Each machine signs what it pushes with a key of its own and
    /// uses remote records signed by itself or by the keys in `trusted`.
    final class Machine {
        let directory: TemporaryDirectory
        let local: Cache
        let actions: [String: ClosureAction]
        let keyFile: SigningKeyFile
        var trusted: [PublicSigningKey] = []
        var requireSignatures = true
        var warnings: [String] = []
        private let lock = NSLock()

        init(name: String = "machine") throws {
            directory = try TemporaryDirectory("remote-machine")
            local = try Cache.onDisk(root: directory.path + "/artifacts")
            keyFile = SigningKeyFile(path: directory.path + "/config/signing-key", newName: name)
            actions = [
                "data": .writing("rows\n", to: "data.txt"),
                "train": ClosureAction { context in
                    try FileManager.default.createDirectory(atPath: context.outputDirectory + "/model/parts", withIntermediateDirectories: true)
                    var bytes = [UInt8](repeating: 0, count: 3 << 20)
                    for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
                    try Data(bytes).write(to: URL(fileURLWithPath: context.outputDirectory + "/model/parts/weights.bin"))
                    try "config".write(toFile: context.outputDirectory + "/model/config.txt", atomically: false, encoding: .utf8)
                    context.log("training")
                },
                "eval": .writing("{\"accuracy\": 0.5}", to: "metrics.json"),
            ]
        }

        var pipeline: Pipeline {
            Pipeline(jobs: [("data", [String]()), ("train", ["data"]), ("eval", ["train"])].map { name, inputs in
                Job(name: name, kind: "test", inputs: inputs.map { Job.Input(role: $0, job: $0) },
                    material: .map(["kind": .string("test"), "version": .int(1), "name": .string(name)]), action: actions[name]!)
            })
        }

        func cache(remote: String, timeout: Double = 2, environment: [String: String] = [:], caFile: String? = nil) throws -> ReadThroughActionCache {
            let backend = try RemoteSettings(location: remote, timeout: timeout, retries: 1, backoff: 0.05, caFile: caFile).backend(environment: environment)
            return ReadThroughActionCache(remote: try remoteCache(backend)) { [weak self] message in
                guard let self else { return }
                self.lock.withLock { self.warnings.append(message) }
            }
        }

        /// `backend` over the local cache, with this machine's key and trust.
        func remoteCache(_ backend: RemoteBackend) throws -> RemoteCache {
            let trust = TrustPolicy(requireSignatures: requireSignatures, trustedKeys: trusted, ownKey: try keyFile.existing()?.publicKey)
            return RemoteCache(backend: backend, local: local, trust: trust, signingKey: keyFile)
        }

        /// Trusts what `other` signs.
        func trust(_ other: Machine) throws { trusted.append(try other.keyFile.loadOrCreate().publicKey) }

        /// Runs the chain with `remote` behind the local cache; statuses by stage.
        func run(remote: String, environment: [String: String] = [:], caFile: String? = nil) throws
            -> (statuses: [String: StageResult.Status], results: [StageResult], remote: ReadThroughActionCache) {
            let readThrough = try cache(remote: remote, environment: environment, caFile: caFile)
            let results = Executor(pipeline: pipeline, cache: readThrough.cache).run()
            return (Dictionary(uniqueKeysWithValues: results.map { ($0.job, $0.status) }), results, readThrough)
        }

        var executions: [String: Int] { actions.mapValues(\.executions) }
    }

    static func checkColleagueGetsHits(remote: String, environment: [String: String] = [:], caFile: String? = nil) throws {
        let me = try Machine(), colleague = try Machine()
        let first = try me.run(remote: remote, environment: environment, caFile: caFile)
        #expect(first.statuses == ["data": .ran, "train": .ran, "eval": .ran] && me.warnings.isEmpty, "\(me.warnings)")
        #expect(first.remote.remote.transferred.recordsPushed == 3)
        try colleague.trust(me)
        let second = try colleague.run(remote: remote, environment: environment, caFile: caFile)
        #expect(second.statuses == ["data": .cached, "train": .cached, "eval": .cached], "\(colleague.warnings)")
        #expect(colleague.executions.values.allSatisfy { $0 == 0 })
        // The colleague's local cache now holds the same trees, verified, and the logs.
        for (mine, theirs) in zip(first.results, second.results) {
            #expect(mine.output == theirs.output && mine.key == theirs.key)
            let files = try Tree.walk(theirs.output!, in: colleague.local.objects).files
            for file in files { _ = try colleague.local.objects.read(file.entry.digest) }
        }
        let trainLog = try #require(second.results[1].log)
        #expect(String(decoding: try colleague.local.objects.read(trainLog), as: UTF8.self).contains("training"))
        #expect(second.remote.remote.transferred.recordsFetched == 3 && second.remote.remote.transferred.bytesFetched > 3 << 20)
        // A third machine's second run needs nothing from the remote.
        let again = try colleague.run(remote: remote, environment: environment, caFile: caFile)
        #expect(again.statuses.values.allSatisfy { $0 == .cached } && again.remote.remote.transferred.objectsFetched == 0)
    }

    @Test func aColleagueGetsHitsFromASharedDirectory() throws {
        let shared = try TemporaryDirectory("remote-shared")
        try Self.checkColleagueGetsHits(remote: shared.path)
        // Objects first, record last, laid out like a local cache.
        #expect(FileManager.default.fileExists(atPath: shared.path + "/actions") && FileManager.default.fileExists(atPath: shared.path + "/objects"))
    }

    @Test(arguments: [false, true])
    func aColleagueGetsHitsFromWebDAV(tls: Bool) throws {
        let server = try WebDAVServer(tls: tls)
        try Self.checkColleagueGetsHits(remote: server.url, caFile: server.caFile)
        let backend = try RemoteSettings(location: server.url, caFile: server.caFile).backend(environment: [:])
        let keys = try #require(try RemoteCache(backend: backend, local: try Machine().local).remoteKeys())
        #expect(keys.count == 3)
    }

    @Test(arguments: [false, true])
    func aColleagueGetsHitsFromS3(tls: Bool) throws {
        let server = try S3Server(tls: tls)
        try Self.checkColleagueGetsHits(remote: "s3://\(server.bucket)/team/cache", environment: server.environment)
        let backend = try RemoteSettings(location: "s3://\(server.bucket)/team/cache").backend(environment: server.environment)
        let keys = try #require(try RemoteCache(backend: backend, local: try Machine().local).remoteKeys())
        #expect(keys.count == 3)
        // Wrong credentials are refused by the server, not retried forever.
        var wrong = server.environment
        wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let refused = try RemoteSettings(location: "s3://\(server.bucket)/team/cache").backend(environment: wrong)
        #expect { _ = try refused.read("actions/x") } throws: { error in
            guard let remote = error as? RemoteError, case .status(403, _) = remote else { return false }
            // The status and reason (and S3's error code), not the server's XML.
            return remote.description.hasPrefix("HTTP 403 Forbidden") && remote.description.hasSuffix(" on GET s3://\(server.bucket)/team/cache/actions/x")
                && !remote.description.contains("<")
        }
    }

    @Test func aCorruptedRemoteObjectIsDetectedAndDiscarded() throws {
        let shared = try TemporaryDirectory("remote-shared")
        let me = try Machine(), colleague = try Machine()
        let first = try me.run(remote: shared.path)
        // Replace the 3 MB file's object on the remote with other bytes.
        let weights = try Tree.walk(first.results[1].output!, in: me.local.objects).files.first { $0.path == "model/parts/weights.bin" }!
        let hex = weights.entry.digest.hex
        let object = shared.path + "/objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
        chmod(object, 0o644)
        try Data("poison".utf8).write(to: URL(fileURLWithPath: object))
        try colleague.trust(me)
        let second = try colleague.run(remote: shared.path)
        // `data` is a hit; `train` is computed locally, and `eval` (same inputs) then hits again.
        #expect(second.statuses == ["data": .cached, "train": .ran, "eval": .cached], "\(colleague.warnings)")
        #expect(colleague.warnings.contains { $0.contains("object \(weights.entry.digest.short) from \(shared.path) hashes to") && $0.contains("discarded") },
                "\(colleague.warnings)")
        #expect(try colleague.local.objects.read(weights.entry.digest).count == 3 << 20)
        #expect(colleague.executions["train"] == 1)
    }

    @Test func aLargeObjectFromADirectoryIsCopiedAndHashedTogether() throws {
        let shared = try TemporaryDirectory("remote-shared"), local = try TemporaryDirectory("remote-local")
        let backend = try DirectoryBackend(root: shared.path)
        var bytes = [UInt8](repeating: 0, count: 3 * DirectoryBackend.pipelinedSize + 12345)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 11) }
        try FileManager.default.createDirectory(atPath: shared.path + "/objects", withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: shared.path + "/objects/big"))
        let digest = try backend.download("objects/big", to: local.path + "/big")
        #expect(digest == Digest.of(Data(bytes)))
        #expect(FileManager.default.contents(atPath: local.path + "/big") == Data(bytes))
        // Other bytes of the same size hash to something else (the caller discards them).
        bytes[bytes.count / 2] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: shared.path + "/objects/big"))
        let tampered = try backend.download("objects/big", to: local.path + "/big2")
        #expect(tampered == Digest.of(Data(bytes)) && tampered != digest)
        #expect(try backend.download("objects/none", to: local.path + "/none") == nil)
    }

    @Test(arguments: [false, true])
    func aServerStoppedMidRunIsReportedOnceAndTheRunGoesOn(tls: Bool) throws {
        let server = try WebDAVServer(tls: tls)
        let me = try Machine()
        // Stop the server as soon as `data` has been pushed: `train` and `eval` run locally.
        let readThrough = try me.cache(remote: server.url, timeout: 1, caFile: server.caFile)
        let stopping = Pipeline(jobs: me.pipeline.jobs.map { job in
            guard job.name == "train" else { return job }
            let inner = me.actions["train"]!
            return Job(name: job.name, kind: job.kind, inputs: job.inputs, material: job.material, action: ClosureAction { context in
                server.stop()
                try inner.run(context)
            })
        })
        let results = Executor(pipeline: stopping, cache: readThrough.cache).run()
        #expect(results.map(\.status) == [.ran, .ran, .ran])
        let notices = me.warnings.filter { $0.contains(server.url.dropLast(1)) }
        #expect(notices.count == 1 && notices[0].contains("cannot push"), "\(me.warnings)")
        #expect(readThrough.remote.transferred.recordsPushed == 1)
        // A run with the server gone entirely: one warning, everything local.
        let colleague = try Machine()
        let alone = try colleague.run(remote: server.url, caFile: server.caFile)
        #expect(alone.statuses.values.allSatisfy { $0 == .ran } && colleague.warnings.count == 1, "\(colleague.warnings)")
        #expect(colleague.warnings.first?.contains("is not answering") == true)
    }

    @Test(arguments: [false, true])
    func concurrentPushesOfOneStageAreSafe(tls: Bool) throws {
        let server = try WebDAVServer(tls: tls)
        let me = try Machine()
        let results = Executor(pipeline: me.pipeline, cache: me.local).run()
        let backend = try RemoteSettings(location: server.url, caFile: server.caFile).backend(environment: [:])
        let remotes = try (0..<4).map { _ in try me.remoteCache(backend) }
        let key = results[1].key!
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            #expect(throws: Never.self) { try remotes[i].push(key) }
        }
        let colleague = try Machine()
        try colleague.trust(me)
        let record = try #require(try colleague.remoteCache(backend).pull(key))
        #expect(record.output == results[1].output)
        #expect(try Tree.walk(record.output, in: colleague.local.objects).files.count == 2)
    }

    @Test func settingsAreCheckedAndCredentialsNeverShown() throws {
        let backend = try RemoteSettings(location: "http://alice:s3cret@127.0.0.1:9/cache").backend()
        #expect(backend.displayName == "http://127.0.0.1:9/cache" && !backend.displayName.contains("s3cret"))
        #expect(throws: RemoteError.self) { try RemoteSettings(location: "relative/dir").backend() }
        #expect(throws: RemoteError.self) { try RemoteSettings(location: "/no/such/share").backend() }
        // Nothing listens on port 9: unreachable after the retries, quickly.
        let closed = try RemoteSettings(location: "http://127.0.0.1:\(try WebDAVServer.freePort())/", timeout: 1, retries: 1, backoff: 0.01).backend()
        #expect { _ = try closed.read("actions/x") } throws: { error in
            guard let remote = error as? RemoteError, case .unreachable = remote else { return false }
            return true
        }
    }
}

/// A server that answers every request with a body cut off half-way, then closes: an interrupted
/// download must leave nothing in the local cache, not even a temporary file.
struct InterruptedTransferTests {
    final class CuttingServer: @unchecked Sendable {
        let port: Int
        private let fd: Int32
        private(set) var requests = 0
        private let lock = NSLock()

        init() throws {
            guard let (listener, port) = LoopbackListener.open(backlog: 8) else { throw RemoteError.local("cannot listen") }
            fd = listener
            self.port = port
            let thread = Thread { [self] in serve() }
            thread.start()
        }

        private func serve() {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                lock.withLock { requests += 1 }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = recv(client, &buffer, buffer.count, 0)
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 500)
                _ = head.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }

        func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    @Test func aCutOffDownloadLeavesNothingBehind() throws {
        let server = try CuttingServer()
        defer { server.stop() }
        let directory = try TemporaryDirectory("interrupted")
        let local = try Cache.onDisk(root: directory.path + "/artifacts")
        let backend = try RemoteSettings(location: "http://127.0.0.1:\(server.port)/", timeout: 2, retries: 2, backoff: 0.01).backend()
        let remote = RemoteCache(backend: backend, local: local)
        let digest = Digest.of(Data("an object".utf8))
        #expect { try remote.fetch(digest) } throws: { error in
            guard let remoteError = error as? RemoteError, case .transfer(let text) = remoteError else { return false }
            return text.contains("body ended")
        }
        // Tried three times (the first and two retries), and nothing stayed: no object, no temporary file.
        #expect(server.requests == 3)
        #expect(!local.objects.contains(digest))
        #expect(try FileManager.default.contentsOfDirectory(atPath: local.temporaryDirectory).isEmpty)
    }
}
