import Foundation
import PipeEngine
import PipeTestSupport
import Testing

/// The executor on in-memory stores: exactly which stages run, and the hit/miss counts.
struct EngineTests {
    /// A pipeline whose actions count their executions; `material` values are the stages' settings.
    final class Fixture {
        let workspace: TemporaryDirectory
        let cache: Cache
        var actions: [String: ClosureAction] = [:]
        var settings: [String: KeyValue] = [:]
        var edges: [(String, [String])] = []
        var previous: [String: KeyValue] = [:]

        init() throws {
            workspace = try TemporaryDirectory("engine")
            cache = Cache(objects: MemoryContentStore(), actions: MemoryActionCache(), locks: MemoryKeyLocks(),
                          temporaryDirectory: workspace.path)
        }

        /// Adds a stage; by default it writes its inputs' text, then its name and setting.
        func add(_ name: String, inputs: [String] = [], setting: KeyValue = .int(0), action: ClosureAction? = nil) {
            edges.append((name, inputs))
            settings[name] = setting
            actions[name] = action ?? ClosureAction { [unowned self] context in
                var text = ""
                for role in context.inputDirectories.keys.sorted() {
                    text += try String(contentsOfFile: context.inputDirectories[role]! + "/out.txt", encoding: .utf8)
                }
                text += "\(name) \(self.settings[name]!.text)\n"
                try text.write(toFile: context.outputDirectory + "/out.txt", atomically: false, encoding: .utf8)
            }
        }

        var pipeline: Pipeline {
            Pipeline(jobs: edges.map { name, inputs in
                Job(name: name, kind: "test", inputs: inputs.map { Job.Input(role: $0, job: $0) },
                    material: .map(["kind": .string("test"), "version": .int(1), "seed": .string(name),
                                    "with": .map(["x": settings[name]!])]),
                    action: actions[name]!)
            })
        }

        /// Runs and returns the statuses by stage.
        @discardableResult
        func run(_ options: RunOptions = RunOptions()) -> [String: StageResult] {
            let known = previous
            let results = Executor(pipeline: pipeline, cache: cache, options: options, previous: { known[$0] }).run()
            for result in results where result.status == .ran || result.status == .cached {
                previous[result.job] = pipeline.job(result.job)!.keyMaterial(inputs: result.inputs)
            }
            return Dictionary(uniqueKeysWithValues: results.map { ($0.job, $0) })
        }

        func executions() -> [String: Int] { actions.mapValues(\.executions) }

        static func chain(_ length: Int) throws -> Fixture {
            let fixture = try Fixture()
            for i in 0..<length { fixture.add("s\(i)", inputs: i == 0 ? [] : ["s\(i - 1)"]) }
            return fixture
        }
    }

    func statuses(_ results: [String: StageResult]) -> [String: StageResult.Status] { results.mapValues(\.status) }

    @Test func firstRunExecutesEverythingAndNoOpRerunNothing() throws {
        let f = try Fixture.chain(4)
        #expect(Set(f.run().values.map(\.status)) == [.ran])
        let second = f.run()
        #expect(Set(second.values.map(\.status)) == [.cached])
        #expect(f.executions() == ["s0": 1, "s1": 1, "s2": 1, "s3": 1])
    }

    @Test func paramChangeMidChainRerunsItAndDownstreamOnly() throws {
        let f = try Fixture.chain(4)
        f.run()
        f.settings["s1"] = .double(3e-4)
        let results = f.run()
        #expect(statuses(results) == ["s0": .cached, "s1": .ran, "s2": .ran, "s3": .ran])
        #expect(f.executions() == ["s0": 1, "s1": 2, "s2": 2, "s3": 2])
        #expect(results["s1"]!.reason == .changed([KeyChange(path: "with.x", old: .int(0), new: .double(3e-4))]))
        #expect(results["s1"]!.reason!.description == "`with.x` changed 0 -> 0.0003")
        #expect(results["s2"]!.reason!.description == "input `s1` rebuilt")
    }

    @Test func earlyCutoffKeepsDownstreamCachedWhenOutputIsIdentical() throws {
        let f = try Fixture.chain(3)
        // s1's setting changes but its output does not depend on it.
        f.actions["s1"] = .writing("constant\n")
        f.run()
        f.settings["s1"] = .int(5)
        let results = f.run()
        #expect(statuses(results) == ["s0": .cached, "s1": .ran, "s2": .cached])
        #expect(f.executions() == ["s0": 1, "s1": 2, "s2": 1])
    }

    @Test func diamondRunsTheSharedStageOnceAndJoinsBothBranches() throws {
        let f = try Fixture()
        f.add("top")
        f.add("left", inputs: ["top"])
        f.add("right", inputs: ["top"])
        f.add("join", inputs: ["left", "right"])
        let results = f.run(RunOptions(jobs: 2))
        #expect(Set(results.values.map(\.status)) == [.ran])
        #expect(f.executions() == ["top": 1, "left": 1, "right": 1, "join": 1])
        let output = try Tree.walk(results["join"]!.output!, in: f.cache.objects)
        let text = String(decoding: try f.cache.objects.read(output.files[0].entry.digest), as: UTF8.self)
        #expect(text == "top 0\nleft 0\ntop 0\nright 0\njoin 0\n")
        f.settings["right"] = .int(1)
        #expect(statuses(f.run()) == ["top": .cached, "left": .cached, "right": .ran, "join": .ran])
    }

    @Test func forceRerunsTheStageAndEarlyCutoffSparesDownstream() throws {
        let f = try Fixture.chain(3)
        f.run()
        let results = f.run(RunOptions(force: ["s1"]))
        #expect(statuses(results) == ["s0": .cached, "s1": .ran, "s2": .cached])
        #expect(results["s1"]!.reason == .forced)
        #expect(f.executions() == ["s0": 1, "s1": 2, "s2": 1])
    }

    @Test func onlyRunsTheStageAndWhatItReads() throws {
        let f = try Fixture.chain(4)
        let results = f.run(RunOptions(only: ["s1"]))
        #expect(statuses(results) == ["s0": .ran, "s1": .ran])
        #expect(f.executions() == ["s0": 1, "s1": 1, "s2": 0, "s3": 0])
    }

    @Test func failureStopsDependantsAndKeepGoingRunsTheRest() throws {
        let f = try Fixture()
        f.add("a")
        f.add("bad", inputs: ["a"], action: ClosureAction { context in
            context.log("about to fail")
            throw JobFailure("boom")
        })
        f.add("after", inputs: ["bad"])
        f.add("other", inputs: ["a"])
        let stopped = f.run()
        #expect(stopped["bad"]!.status == .failed)
        #expect(stopped["bad"]!.message == "boom")
        #expect(stopped["bad"]!.logTail == ["about to fail"])
        #expect(stopped["after"]!.status == .skipped)
        #expect(stopped["after"]!.message == "upstream `bad` failed")
        #expect(stopped["other"]!.status == .skipped)
        let kept = f.run(RunOptions(keepGoing: true))
        #expect(statuses(kept) == ["a": .cached, "bad": .failed, "after": .skipped, "other": .ran])
    }

    @Test func corruptedInputIsReportedAndItsStageRecomputed() throws {
        let f = try Fixture.chain(2)
        let first = f.run()
        // Corrupt s0's output file, then make s1 miss so that it reads s0's artifact.
        let file = try Tree.walk(first["s0"]!.output!, in: f.cache.objects).files[0].entry.digest
        (f.cache.objects as! MemoryContentStore).corrupt(file, with: Data("tampered".utf8))
        f.settings["s1"] = .int(9)
        let results = f.run()
        #expect(results["s0"]!.status == .ran)
        if case .corruptOutput(let detail) = results["s0"]!.reason { #expect(detail.contains("corrupted object")) } else {
            Issue.record("expected a corrupt-output reason, got \(String(describing: results["s0"]!.reason))")
        }
        #expect(results["s1"]!.status == .ran)
        #expect(f.executions() == ["s0": 2, "s1": 2])
        #expect(try f.cache.objects.read(file) == Data("s0 0\n".utf8))
    }

    @Test func plannerExplainsStalenessWithoutRunning() throws {
        let f = try Fixture.chain(3)
        f.run()
        f.settings["s1"] = .string("new")
        let known = f.previous
        let plan = Planner.plan(f.pipeline, cache: f.cache, previous: { known[$0] })
        #expect(plan.map(\.job) == ["s0", "s1", "s2"])
        #expect(plan[0].state == .cached(key: plan[0].key!, output: plan[0].state.output!))
        #expect(plan[1].state == .stale(.changed([KeyChange(path: "with.x", old: .int(0), new: .string("new"))])))
        #expect(plan[2].state == .stale(.waitingOn(["s1"], changes: [])))
        #expect(f.executions() == ["s0": 1, "s1": 1, "s2": 1])
    }

    @Test func sameKeyIsComputedOnceEvenWhenTwoStagesShareIt() throws {
        // Two stages with identical material and inputs have the same key: one computes it, the other hits.
        let f = try Fixture()
        let shared = ClosureAction.writing("same\n")
        f.add("one", action: shared)
        f.add("two", action: shared)
        let pipeline = Pipeline(jobs: f.pipeline.jobs.map { job in
            var job = job
            job.material = .map(["kind": .string("test"), "with": .map([:])])
            return job
        })
        let results = Dictionary(uniqueKeysWithValues: Executor(pipeline: pipeline, cache: f.cache, options: RunOptions(jobs: 2))
            .run().map { ($0.job, $0) })
        #expect(shared.executions == 1)
        #expect(Set([results["one"]!.status, results["two"]!.status]) == [.ran, .cached])
    }
}

extension Planner.State {
    var output: Digest? {
        if case .cached(_, let output) = self { return output }
        return nil
    }
}

/// How changes between runs are worded.
struct KeyChangeTests {
    @Test(arguments: [
        (KeyChange(path: "with.lr", old: .double(1e-4), new: .double(3e-4)), "`with.lr` changed 0.0001 -> 0.0003"),
        (KeyChange(path: "inputs.dataset", old: .string("a"), new: .string("b")), "input `dataset` rebuilt"),
        (KeyChange(path: "deps.train.py", old: .string("a"), new: .string("b")), "file `train.py` modified"),
        (KeyChange(path: "deps.new.sh", old: nil, new: .string("b")), "file `new.sh` added to deps"),
        (KeyChange(path: "version", old: .int(1), new: .int(2)), "kind version changed 1 -> 2"),
        (KeyChange(path: "with.epochs", old: nil, new: .int(3)), "`with.epochs` added (3)"),
        (KeyChange(path: "seed", old: .int(1), new: .int(2)), "`seed` changed 1 -> 2"),
        (KeyChange(path: "env.MODE", old: .string("fast"), new: .string("slow")), "`env.MODE` changed \"fast\" -> \"slow\""),
        (KeyChange(path: "command", old: .string("i=0\nwhile [ $i -lt 200 ]; do echo $i; i=$((i + 1)); done > \"$PIPE_OUT/data.txt\" # a long tail of text"),
                   new: .string("i=0\nwhile [ $i -lt 100 ]; do echo $i; i=$((i + 1)); done > \"$PIPE_OUT/data.txt\" # a long tail of text")),
         // 20 characters either side of the differing part.
         #"`command` changed "i=0\nwhile [ $i -lt 200 ]; do echo $i; i=..." -> "i=0\nwhile [ $i -lt 100 ]; do echo $i; i=...""#),
    ])
    func describes(_ change: KeyChange, _ text: String) {
        #expect(change.description == text)
    }
}
