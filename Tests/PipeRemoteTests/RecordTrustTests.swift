import Foundation
@testable import PipeEngine
@testable import PipeRemote
import PipeTestSupport
import Testing

/// Action records from a remote are used only when valid and signed by a trusted key: a record
/// repointed at another output, or at a forged tree, is ignored and its stage computed locally.
@Suite(.serialized)
struct RecordTrustTests {
    typealias Machine = RemoteCacheTests.Machine

    /// Where a tampered record points.
    enum Target: String, CaseIterable, Sendable { case otherStagesOutput, forgedTree }
    /// How a tampered record is signed.
    enum Signing: String, CaseIterable, Sendable { case unsigned, byAStranger, byATrustedKeyBeforeTampering }

    /// Rewrites the record of `key` on the shared directory `root`.
    static func rewrite(_ key: Digest, in root: String, _ change: (inout ActionRecord) throws -> Void) throws {
        let path = root + "/" + RemoteCache.recordPath(key)
        var record = try #require(ActionRecord(fileData: try Data(contentsOf: URL(fileURLWithPath: path)), key: key))
        try change(&record)
        unlink(path)
        try record.fileData().write(to: URL(fileURLWithPath: path))
    }

    /// A well-formed tree (`metrics.json` saying 0.99) whose objects are on the remote: what someone
    /// who can write to the remote, but holds no trusted key, can make.
    static func forgeTree(on backend: RemoteBackend) throws -> Digest {
        let scratch = try TemporaryDirectory("forged")
        try scratch.write("tree/metrics.json", "{\"accuracy\": 0.99}")
        let store = MemoryContentStore()
        let root = try Tree.ingest(directory: scratch.path + "/tree", into: store).digest
        let walked = try Tree.walk(root, in: store)
        for digest in walked.listings + walked.files.map(\.entry.digest) {
            try backend.upload(try store.read(digest), to: RemoteCache.objectPath(digest))
        }
        return root
    }

    @Test(arguments: Target.allCases, Signing.allCases)
    func aTamperedRecordIsIgnoredAndItsStageComputed(target: Target, signing: Signing) throws {
        let shared = try TemporaryDirectory("remote-shared")
        let me = try Machine(name: "me"), colleague = try Machine(name: "colleague")
        let first = try me.run(remote: shared.path)
        let backend = try DirectoryBackend(root: shared.path)
        let stranger = SigningKey(name: "stranger@elsewhere")
        let keys = first.results.map { $0.key! }, outputs = first.results.map { $0.output! }
        let poison = target == .otherStagesOutput ? outputs[0] : try Self.forgeTree(on: backend)
        // `train` and `eval` both point at the poison.
        for key in keys[1...] {
            try Self.rewrite(key, in: shared.path) { record in
                record.output = poison
                switch signing {
                case .unsigned: record.signature = nil
                case .byAStranger: record = try stranger.sign(record)
                case .byATrustedKeyBeforeTampering: break
                }
            }
        }
        try colleague.trust(me)
        // A pull refuses the record before fetching anything it names.
        let puller = try Machine()
        try puller.trust(me)
        let pulling = try puller.remoteCache(backend)
        #expect(throws: RemoteError.self) { try pulling.pull(keys[1]) }
        #expect(pulling.transferred.objectsFetched == 0 && !puller.local.objects.contains(poison))

        let second = try colleague.run(remote: shared.path)
        #expect(second.statuses == ["data": .cached, "train": .ran, "eval": .ran], "\(colleague.warnings)")
        #expect(second.results.map(\.output) == first.results.map(\.output), "downstream computes from the right input")
        let metrics = try Tree.walk(second.results[2].output!, in: colleague.local.objects).files[0].entry.digest
        #expect(String(decoding: try colleague.local.objects.read(metrics), as: UTF8.self) == "{\"accuracy\": 0.5}")
        // One line for the signer, though two records were ignored.
        #expect(colleague.warnings.count == 1, "\(colleague.warnings)")
        let warning = colleague.warnings.first ?? ""
        switch signing {
        case .unsigned:
            #expect(warning.hasPrefix("warning: ignoring unsigned results on \(shared.path)") && warning.contains("key \(keys[1].short)"))
            #expect(warning.contains("opt out in pipe.yaml: remote: {url: \(shared.path), require-signatures: false}"), "\(warning)")
        case .byAStranger:
            #expect(warning.contains("signed by stranger@elsewhere, a key pipe.yaml does not trust"), "\(warning)")
            #expect(warning.hasSuffix("add \"\(stranger.publicKey)\" to trusted-keys in pipe.yaml"), "\(warning)")
        case .byATrustedKeyBeforeTampering:
            #expect(warning.contains("whose signature (as me) does not verify") && warning.contains("changed after signing"), "\(warning)")
        }
        // The colleague's push replaced the records nobody could use; a stranger's stays for whoever trusts it.
        let healed = try #require(try backend.read(RemoteCache.recordPath(keys[1])).flatMap { ActionRecord(fileData: $0, key: keys[1]) })
        if signing == .byAStranger {
            #expect(healed.output == poison && healed.signature?.signer == stranger.publicKey.description)
        } else {
            let colleagueKey = try #require(try colleague.keyFile.existing()?.publicKey)
            #expect(healed.output == outputs[1] && TrustPolicy(trustedKeys: [colleagueKey]).objection(to: healed) == nil)
        }
    }

    @Test func aTrustedSignersRecordsAreHitsAndAnUnknownSignersAreNot() throws {
        let shared = try TemporaryDirectory("remote-shared")
        let me = try Machine(name: "me"), stranger = try Machine(name: "stranger"), colleague = try Machine(name: "colleague")
        _ = try me.run(remote: shared.path)
        let strangers = try stranger.run(remote: shared.path)
        #expect(strangers.statuses.values.allSatisfy { $0 == .ran } && stranger.warnings.count == 1, "\(stranger.warnings)")
        let myKey = try me.keyFile.loadOrCreate().publicKey
        #expect(stranger.warnings.first?.hasSuffix("add this line to pipe.yaml: trusted-keys: [\"\(myKey)\"]") == true, "\(stranger.warnings)")
        try colleague.trust(me)
        let hits = try colleague.run(remote: shared.path)
        #expect(hits.statuses.values.allSatisfy { $0 == .cached } && colleague.warnings.isEmpty, "\(colleague.warnings)")
        #expect(colleague.executions.values.allSatisfy { $0 == 0 } && hits.remote.remote.transferred.recordsFetched == 3)
    }

    @Test func optingOutAcceptsUnsignedRecordsButNotBadSignatures() throws {
        let shared = try TemporaryDirectory("remote-shared")
        let me = try Machine(name: "me")
        // Records as a pipe that predates signatures pushed them.
        let results = Executor(pipeline: me.pipeline, cache: me.local).run()
        let unsigning = RemoteCache(backend: try DirectoryBackend(root: shared.path), local: me.local)
        for result in results { try unsigning.push(result.key!) }
        let private1 = try Machine()
        private1.requireSignatures = false
        let accepted = try private1.run(remote: shared.path)
        #expect(accepted.statuses.values.allSatisfy { $0 == .cached } && private1.warnings.isEmpty, "\(private1.warnings)")
        let strict = try Machine()
        let refused = try strict.run(remote: shared.path)
        #expect(refused.statuses.values.allSatisfy { $0 == .ran } && strict.warnings.count == 1, "\(strict.warnings)")
        #expect(strict.warnings.first?.contains("ignoring unsigned results") == true, "\(strict.warnings)")
        // A signature that does not verify is refused even so.
        try Self.rewrite(results[1].key!, in: shared.path) { record in
            record = try SigningKey(name: "someone").sign(record)
            record.output = results[0].output!
        }
        let private2 = try Machine()
        private2.requireSignatures = false
        let second = try private2.run(remote: shared.path)
        #expect(second.statuses == ["data": .cached, "train": .ran, "eval": .cached], "\(private2.warnings)")
        #expect(private2.warnings.count == 1 && private2.warnings[0].contains("does not verify"), "\(private2.warnings)")
    }

    @Test func aRemoteRecordWhoseMaterialDoesNotHashToItsKeyIsIgnored() throws {
        let shared = try TemporaryDirectory("remote-shared")
        let me = try Machine(name: "me"), colleague = try Machine()
        let first = try me.run(remote: shared.path)
        let key = first.results[1].key!
        // Validly signed by a trusted key, but its material is another stage's: not a record of its key.
        let signer = try me.keyFile.loadOrCreate()
        try Self.rewrite(key, in: shared.path) { record in
            record.material = .map(["kind": .string("test"), "version": .int(1), "name": .string("other")])
            record = try signer.sign(record)
        }
        try colleague.trust(me)
        let second = try colleague.run(remote: shared.path)
        #expect(second.statuses == ["data": .cached, "train": .ran, "eval": .cached], "\(colleague.warnings)")
        #expect(colleague.warnings.count == 1 && colleague.warnings[0].contains("the record of \(key.short) on \(shared.path) is ignored: its key material hashes to"),
                "\(colleague.warnings)")
    }

    @Test func aLocalRecordThatIsNotItsKeysIsIgnored() throws {
        let me = try Machine()
        let first = Executor(pipeline: me.pipeline, cache: me.local).run()
        let actions = try #require(me.local.actions as? FileActionCache)
        let train = first[1].key!, eval = first[2].key!
        // Edit `train`'s material; file `data`'s record under `eval`'s key.
        var edited = try #require(try actions.record(for: train))
        edited.material = .map(["edited": .bool(true)])
        try FileManager.default.removeItem(atPath: actions.path(of: train))
        try edited.fileData().write(to: URL(fileURLWithPath: actions.path(of: train)))
        try FileManager.default.removeItem(atPath: actions.path(of: eval))
        try FileManager.default.copyItem(atPath: actions.path(of: first[0].key!), toPath: actions.path(of: eval))
        #expect(throws: EngineError.self) { try actions.hit(for: train) }
        let second = Executor(pipeline: me.pipeline, cache: me.local).run()
        #expect(second.map(\.status) == [.cached, .ran, .ran])
        #expect(second[1].reason?.description.contains("its key material hashes to") == true, "\(String(describing: second[1].reason))")
        #expect(second[2].reason?.description.contains("it is the record of another key, \(first[0].key!.short)") == true, "\(String(describing: second[2].reason))")
        #expect(second.map(\.output) == first.map(\.output))
        // Rewritten whole, they are hits again.
        #expect(Executor(pipeline: me.pipeline, cache: me.local).run().allSatisfy { $0.status == .cached })
    }

    @Test func theKeyFileIsMadeOnFirstUsePrivateAndReused() throws {
        let home = try TemporaryDirectory("home")
        let path = home.path + "/config/pipe/signing-key"
        let file = SigningKeyFile(path: path, newName: "alice@lab")
        #expect(try file.existing() == nil && !FileManager.default.fileExists(atPath: path), "looking does not make a key")
        let key = try file.loadOrCreate()
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(home.path + "/config/pipe", &info) == 0 && info.st_mode & 0o777 == 0o700)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("alice@lab:") && text.hasSuffix("\n") && Data(base64Encoded: String(text.dropFirst(10).dropLast()))?.count == 32)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.path + "/config/pipe") == ["signing-key"], "no temporary file left")
        let again = SigningKeyFile(path: path, newName: "other@name")
        #expect(try again.loadOrCreate().publicKey == key.publicKey && key.publicKey.name == "alice@lab")
        // Open to others, or not a key: refused, saying how to fix it.
        chmod(path, 0o644)
        #expect { try SigningKeyFile(path: path, newName: "x").existing() } throws: { "\($0)".contains("mode 0644") && "\($0)".contains("chmod 600 \(path)") }
        unlink(path)
        _ = FileManager.default.createFile(atPath: path, contents: Data("not a key".utf8), attributes: [.posixPermissions: 0o600])
        #expect { try SigningKeyFile(path: path, newName: "x").loadOrCreate() } throws: { "\($0)".contains("signing key \(path) is not `NAME:BASE64`") }
    }

    @Test func theKeyFileAndNameFollowTheEnvironment() {
        #expect(SigningKeyFile(environment: ["PIPE_SIGNING_KEY": "/k/key", "XDG_CONFIG_HOME": "/c"]).path == "/k/key")
        #expect(SigningKeyFile(environment: ["XDG_CONFIG_HOME": "/c", "HOME": "/h"]).path == "/c/pipe/signing-key")
        #expect(SigningKeyFile(environment: ["XDG_CONFIG_HOME": "relative", "HOME": "/h"]).path == "/h/.config/pipe/signing-key")
        #expect(SigningKeyFile.defaultName(environment: ["PIPE_SIGNING_KEY_NAME": "lab-cache-1"]) == "lab-cache-1")
        #expect(SigningKeyFile.defaultName(environment: ["USER": "bob smith"]).hasPrefix("bob-smith@"))
    }

    @Test(arguments: [
        ("alice@lab:" + Data(repeating: 7, count: 32).base64EncodedString(), true),
        ("alice@lab:" + Data(repeating: 7, count: 31).base64EncodedString(), false),
        ("alice@lab:not base64", false),
        ("alice lab:" + Data(repeating: 7, count: 32).base64EncodedString(), false),
        (":" + Data(repeating: 7, count: 32).base64EncodedString(), false),
        ("-x:" + Data(repeating: 7, count: 32).base64EncodedString(), false),
        ("no-colon", false),
    ])
    func publicKeysParse(text: String, valid: Bool) {
        #expect((PublicSigningKey(text: text) != nil) == valid)
        if valid { #expect(PublicSigningKey(text: text)?.description == text) }
    }

    @Test func aSignatureCoversTheKeyOutputAndLog() throws {
        let key = SigningKey(name: "me")
        let material = KeyValue.map(["name": .string("train")])
        let record = ActionRecord(key: material.digest, output: Digest.of(Data("out".utf8)), log: Digest.of(Data("log".utf8)), material: material,
                                  stage: "train", kind: "test", files: 1, bytes: 3, seconds: 0, created: Date(timeIntervalSince1970: 0))
        // An unsigned record is stored as before signatures, and reads back unsigned.
        #expect(!String(decoding: try record.fileData(), as: UTF8.self).contains("signature"))
        #expect(ActionRecord(fileData: try record.fileData(), key: record.key)?.signature == nil)
        let signed = try key.sign(record)
        let trusting = TrustPolicy(trustedKeys: [key.publicKey])
        #expect(trusting.objection(to: signed) == nil)
        #expect(ActionRecord(fileData: try signed.fileData(), key: record.key) == signed)
        #expect(TrustPolicy().objection(to: signed) == .unknownSigner(key.publicKey))
        #expect(TrustPolicy(ownKey: key.publicKey).objection(to: signed) == nil)
        #expect(trusting.objection(to: record) == .unsigned)
        var otherLog = signed
        otherLog.log = nil
        var otherOutput = signed
        otherOutput.output = Digest.of(Data("poison".utf8))
        var otherSigner = signed
        otherSigner.signature?.signer = SigningKey(name: "me").publicKey.description
        for tampered in [otherLog, otherOutput, otherSigner] {
            #expect(trusting.objection(to: tampered) == .badSignature(claimed: "me"))
        }
        // Whatever a record claims, the warning prints a safe name.
        var hostile = signed
        hostile.signature?.signer = "\u{1b}[2J:xyz"
        #expect(trusting.objection(to: hostile) == .badSignature(claimed: "an unreadable name"))
        #expect(Distrust.printable("train\u{1b}[2J\n") == "train?[2J?")
    }
}
