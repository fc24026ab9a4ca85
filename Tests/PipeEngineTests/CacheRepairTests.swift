import Foundation
import PipeEngine
import PipeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Corrupted objects on disk: `CacheMaintenance.repair` removes them and every record that reaches
/// them; a run treats a damaged hit as a miss, and a forced run stores a good copy again.
struct CacheRepairTests {
    /// `a -> b`, each writing a file, and `c`, a root writing the same bytes as `a` and a file of its own.
    final class Project {
        let directory: TemporaryDirectory
        let cache: Cache
        let actions: [String: ClosureAction] = [
            "a": .writing("shared\n", to: "a.txt"),
            "b": ClosureAction { context in
                let text = try String(contentsOfFile: context.inputDirectories["a"]! + "/a.txt", encoding: .utf8)
                try (text + "more\n").write(toFile: context.outputDirectory + "/b.txt", atomically: false, encoding: .utf8)
            },
            "c": ClosureAction { context in
                try "shared\n".write(toFile: context.outputDirectory + "/c.txt", atomically: false, encoding: .utf8)
                try "only c\n".write(toFile: context.outputDirectory + "/own.txt", atomically: false, encoding: .utf8)
            },
        ]

        init() throws {
            directory = try TemporaryDirectory("repair")
            cache = try Cache.onDisk(root: directory.path + "/artifacts")
        }

        var pipeline: Pipeline {
            Pipeline(jobs: [("a", [String]()), ("b", ["a"]), ("c", [])].map { name, inputs in
                Job(name: name, kind: "test", inputs: inputs.map { Job.Input(role: $0, job: $0) },
                    material: .map(["kind": .string("test"), "version": .int(1), "name": .string(name)]), action: actions[name]!)
            })
        }

        func run(force: Set<String> = []) -> [String: StageResult] {
            let results = Executor(pipeline: pipeline, cache: cache, options: RunOptions(force: force)).run()
            return Dictionary(uniqueKeysWithValues: results.map { ($0.job, $0) })
        }

        /// Overwrites an object in place (as a stray write through a hard link would).
        func scribble(_ digest: Digest, _ text: String) throws {
            let path = (cache.objects as! FileContentStore).path(of: digest)
            chmod(path, 0o644)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }

        func executions() -> [String: Int] { actions.mapValues(\.executions) }
    }

    static let shared = Digest.of(Data("shared\n".utf8))
    static let own = Digest.of(Data("only c\n".utf8))

    @Test func repairRemovesTheCorruptObjectAndEveryRecordThatReachesIt() throws {
        let project = try Project()
        let first = project.run()
        #expect(first.values.allSatisfy { $0.status == .ran })
        try project.scribble(Self.shared, "SHARED\n")
        let before = CacheMaintenance.verify(project.cache)
        #expect(before.corruptObjects.keys.sorted() == [Self.shared])
        #expect(Set(before.damagedRecords.compactMap { $0.value.stage }) == ["a", "c"])

        let report = try CacheMaintenance.repair(project.cache)
        #expect(report.removed.count == 3, "\(report.removed)")
        #expect(report.removed.contains { $0.hasPrefix("object \(Self.shared.short) (corrupted object") }, "\(report.removed)")
        #expect(report.removed.contains { $0.hasPrefix("record \(first["a"]!.key!.short) (stage `a`, file a.txt is missing or corrupted") }, "\(report.removed)")
        #expect(report.removed.contains { $0.hasPrefix("record \(first["c"]!.key!.short) (stage `c`") }, "\(report.removed)")
        #expect(!project.cache.objects.contains(Self.shared))
        #expect(try project.cache.actions.record(for: first["b"]!.key!) != nil, "b does not reach the object")
        #expect(CacheMaintenance.verify(project.cache).problems.isEmpty)

        // The next run recomputes a and c, restoring the object; b stays cached (same input).
        let next = project.run()
        #expect(next.mapValues(\.status) == ["a": .ran, "b": .cached, "c": .ran])
        #expect(try project.cache.objects.read(Self.shared) == Data("shared\n".utf8))
        #expect(CacheMaintenance.verify(project.cache).problems.isEmpty)
        #expect(try CacheMaintenance.repair(project.cache).removed.isEmpty)
    }

    @Test func aHitWithADamagedOutputIsRecomputed() throws {
        let project = try Project()
        let first = project.run()
        // c's output is read by no stage: only the hit check can notice it.
        try project.scribble(Self.own, "tampered, longer\n")
        let second = project.run()
        #expect(second.mapValues { $0.status } == ["a": .cached, "b": .cached, "c": .ran])
        #expect("\(second["c"]!.reason!)".hasPrefix("cached output corrupted (corrupted object \(Self.own.short): file own.txt is stored with 17 bytes, not the 7 its listing gives"),
                "\(second["c"]!.reason!)")
        #expect(second["c"]!.output == first["c"]!.output)
        #expect(try project.cache.objects.read(Self.own) == Data("only c\n".utf8))
        // A missing object is a damaged hit as well; `pipe status` says so.
        try project.cache.objects.remove(Self.own)
        let plan = Planner.plan(project.pipeline, cache: project.cache, previous: { _ in nil })
        #expect(plan.first { $0.job == "c" }!.state
            == .stale(.corruptOutput("corrupted object \(Self.own.short): file own.txt of the output is missing from the cache")))
        #expect(project.run().mapValues { $0.status } == ["a": .cached, "b": .cached, "c": .ran])
        #expect(project.executions() == ["a": 1, "b": 1, "c": 3])
        #expect(CacheMaintenance.verify(project.cache).problems.isEmpty)
    }

    @Test func aForcedRunStoresAGoodCopyOverACorruptedObject() throws {
        let project = try Project()
        _ = project.run()
        // Same size: a hit cannot tell, but a forced run of the stage that wrote it repairs it.
        try project.scribble(Self.shared, "SHARED\n")
        let forced = project.run(force: ["c"])
        #expect(forced["c"]!.status == .ran && forced["c"]!.reason == .forced)
        #expect(try project.cache.objects.read(Self.shared) == Data("shared\n".utf8))
        #expect(CacheMaintenance.verify(project.cache).problems.isEmpty)
        // A forced stage whose input is corrupted has the input's stage recomputed first.
        try project.scribble(Self.shared, "SHARED\n")
        let again = project.run(force: ["b"])
        #expect(again["a"]!.status == .ran)
        #expect(again["b"]!.status == .ran && again["b"]!.reason == .forced)
        #expect(CacheMaintenance.verify(project.cache).problems.isEmpty)
    }

    @Test func aHostileListingInARecordIsADamagedHit() throws {
        let project = try Project()
        let first = project.run()
        let file = try project.cache.objects.write(Data("owned\n".utf8))
        let hostile = try project.cache.objects.write(Data("pipe-tree 1\nf \(file.hex) 6 ../escaped\n".utf8))
        var record = try project.cache.actions.record(for: first["c"]!.key!)!
        record.output = hostile
        try project.cache.actions.store(record)
        let second = project.run()
        #expect(second["c"]!.status == .ran)
        #expect("\(second["c"]!.reason!)".contains("tree listing names an entry `../escaped`, which contains `/`; refused"), "\(second["c"]!.reason!)")
        #expect(!project.cache.objects.contains(hostile), "the refused listing is deleted")
        #expect(!FileManager.default.fileExists(atPath: project.directory.path + "/artifacts/escaped"))
        #expect(CacheMaintenance.verify(project.cache).problems.isEmpty)
    }
}
