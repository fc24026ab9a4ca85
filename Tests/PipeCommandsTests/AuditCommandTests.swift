import Foundation
import PipeTestSupport
import Testing

/// `pipe audit RUN`: stages re-executed in a scratch cache reproduce bit for bit (built-in training
/// included, its timing.csv aside); a nondeterministic command, an edited recipe and a corrupted
/// object are reported, with exit code 1.
struct AuditCommandTests {
    @Test func aTrainingRunReproducesBitForBit() throws {
        let project = try CLIProject()
        try project.directory.write("warmup.yaml", SFTCommandTests.recipe)
        #expect(try project.pipe("run", "warmup.yaml", environment: ["PIPE_THREADS": "1"]).status == 0)
        let show = try project.pipe("show", "latest")
        #expect(show.stdout.contains("openblas_core ") && show.stdout.contains("training_threads 1") && show.stdout.contains("swift "), "\(show.stdout)")
        // Another thread count: said, and (the gradients are summed in a fixed order) still the same bytes.
        let audit = try project.pipe("audit", "latest", "--all", environment: ["PIPE_THREADS": "3"])
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
        #expect(audit.stdout.contains("provenance: ok (3 stages"), "\(audit.stdout)")
        #expect(audit.stdout.contains("warmup: reproduced bit for bit (5 files") && audit.stdout.contains("timing.csv not compared"), "\(audit.stdout)")
        #expect(audit.stdout.contains("3 of 3 stages reproduced bit for bit"))
        // A bundle a reviewer checks against a cache (here a copy of this one, elsewhere).
        let export = try project.pipe("audit", "--export", "latest", "bundle")
        #expect(export.status == 0 && export.stdout.contains("wrote"), "\(export.stderr)")
        #expect(project.directory.read("bundle/outputs/warmup.txt")?.contains(" model.safetensors") == true)
        #expect(project.directory.read("bundle/metrics/warmup.json")?.contains("validation") == true)
        #expect(try project.pipe("audit", "--export", "latest", "bundle").status == 2)
        let reviewer = try CLIProject()
        let copy = Process()
        copy.executableURL = URL(fileURLWithPath: "/bin/cp")
        copy.arguments = ["-R", project.path + "/artifacts", project.path + "/bundle", reviewer.path + "/"]
        try copy.run()
        copy.waitUntilExit()
        try FileManager.default.removeItem(atPath: reviewer.path + "/artifacts/ledger.sqlite")
        let checked = try reviewer.pipe("audit", "--bundle", "bundle", "--stage", "split")
        #expect(checked.status == 0 && checked.stdout.contains("provenance: ok") && checked.stdout.contains("split: reproduced bit for bit"),
                "\(checked.stdout)\(checked.stderr)")
        let notABundle = try reviewer.pipe("audit", "--bundle", "artifacts")
        #expect(notABundle.status == 2 && notABundle.stderr.contains("is not an audit bundle"), "\(notABundle.stderr)")
        #expect(audit.stdout.contains("auditing machine differs from the run's:\n  - training_threads: recorded 1; now 3"), "\(audit.stdout)")
    }

    @Test func differencesAndBrokenProvenanceAreReported() throws {
        let project = try CLIProject()
        try project.directory.write("clock.yaml", """
            pipe: 1
            name: clock
            stages:
              stamp:
                kind: command
                command: 'date +%s%N > "$PIPE_OUT/stamp.txt"; echo "{\\"value\\": $(od -An -N4 -tu4 /dev/urandom)}" > "$PIPE_OUT/metrics.json"'
              copy:
                kind: command
                inputs: {stamp: stamp}
                command: cp "$PIPE_IN_stamp/stamp.txt" "$PIPE_OUT/copy.txt"
            """)
        #expect(try project.pipe("run", "clock.yaml").status == 0)
        // Without a stage: the provenance chain only, and the stages one could re-execute.
        let chainOnly = try project.pipe("audit", "latest")
        #expect(chainOnly.status == 0 && chainOnly.stdout.contains("provenance: ok") && chainOnly.stdout.contains("--stage NAME, repeatable, or --all")
                && chainOnly.stdout.contains("stamp"), "\(chainOnly.stdout)\(chainOnly.stderr)")
        let typo = try project.pipe("audit", "latest", "--stage", "stmap")
        #expect(typo.status == 2 && typo.stderr.contains("no stage `stmap`"), "\(typo.stderr)")
        // The copy reproduces (same input); the clock does not, and its metric's delta is shown.
        let audit = try project.pipe("audit", "latest", "--all")
        #expect(audit.status == 1)
        #expect(audit.stdout.contains("stamp: DIFFERS in 2 of 2 files") && audit.stdout.contains("metrics.json: value "), "\(audit.stdout)")
        #expect(audit.stdout.contains("a `command` stage runs your own program") && audit.stdout.contains("copy: reproduced bit for bit"), "\(audit.stdout)")
        // Edited after the run (and the cache collected): the recorded text is audited, and the
        // change is a provenance problem.
        try project.directory.write("clock.yaml", "# edited\n" + (project.directory.read("clock.yaml") ?? ""))
        #expect(try project.pipe("cache", "gc").status == 0)
        let edited = try project.pipe("audit", "latest", "--stage", "copy")
        #expect(edited.status == 1 && edited.stdout.contains("clock.yaml changed since the run") && edited.stdout.contains("copy: reproduced bit for bit"),
                "\(edited.stdout)\(edited.stderr)")
        // A corrupted object (the file `copy` wrote) breaks the chain.
        #expect(try project.pipe("get", "1", "copy", "--out", "c").status == 0)
        let hash = Process()
        let pipe = Pipe()
        hash.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        hash.arguments = [project.path + "/c/copy.txt"]
        hash.standardOutput = pipe
        try hash.run()
        hash.waitUntilExit()
        let hex = String(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
        let object = project.path + "/artifacts/objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
        #expect(FileManager.default.fileExists(atPath: object))
        chmod(object, 0o644)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: object))
        let tampered = try project.pipe("audit", "1", "--stage", "copy")
        #expect(tampered.status == 1 && tampered.stdout.contains("problems") && tampered.stdout.contains("does not hash to its name"),
                "\(tampered.stdout)")
        #expect(try project.pipe("audit", "--export").status == 2)
        let missing = try project.pipe("audit", "7", "--all")
        #expect(missing.status == 2 && missing.stderr.contains("no run `7`"))
    }

    @Test func anAblationGridIsAuditedAsItRan() throws {
        let project = try CLIProject()
        let run = try project.pipe("ablate", "ablate/grid-experiment.yaml", "--axis", "params.scale=3", "--seeds", "4")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // The experiment and its recipe edited afterwards, the cache collected: the recorded texts
        // and the command line's axes and seeds rebuild the same grid.
        for file in ["ablate/grid-experiment.yaml", "ablate/grid.yaml"] {
            try project.directory.write(file, (project.directory.read(file) ?? "") + "# edited\n")
        }
        #expect(try project.pipe("cache", "gc").status == 0)
        let audit = try project.pipe("audit", "latest", "--all")
        #expect(audit.status == 1, "the edits are provenance problems: \(audit.stdout)\(audit.stderr)")
        #expect(audit.stdout.contains("experiment \(project.path)/ablate/grid-experiment.yaml over"), "\(audit.stdout)")
        #expect(audit.stdout.contains("grid-experiment.yaml changed since the run") && audit.stdout.contains("grid.yaml changed since the run"), "\(audit.stdout)")
        #expect(audit.stdout.contains("5 of 5 stages reproduced bit for bit"), "\(audit.stdout)")
        #expect(audit.stdout.contains("eval#2: reproduced bit for bit"), "\(audit.stdout)")
        // A reviewer checks the grid from its bundle, with neither file at hand (command stages still
        // run in the recipe's directory).
        let export = try project.pipe("audit", "--export", "latest", "bundle")
        #expect(export.status == 0 && export.stdout.contains("experiment.yaml"), "\(export.stdout)\(export.stderr)")
        #expect(project.directory.read("bundle/metrics/eval#1.json")?.contains("accuracy") == true)
        for file in ["grid-experiment.yaml", "grid.yaml"] { try FileManager.default.removeItem(atPath: project.path + "/ablate/" + file) }
        try FileManager.default.removeItem(atPath: project.path + "/artifacts/ledger.sqlite")
        let checked = try project.pipe("audit", "--bundle", "bundle", "--stage", "eval#2")
        #expect(checked.status == 0 && checked.stdout.contains("provenance: ok (5 stages") && checked.stdout.contains("eval#2: reproduced bit for bit"),
                "\(checked.stdout)\(checked.stderr)")
    }
}
