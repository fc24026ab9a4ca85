import Foundation
import PipeTestSupport
import Testing

/// `pipe validate|run|status|dag` on real recipes, through the built binary.
struct RunCommandTests {
    @Test func firstRunThenNoOpThenChangedDependency() throws {
        let project = try CLIProject()
        let first = try project.pipe("run", "chain.yaml")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(CLIProject.normalize(first.stdout) == """
            stage kind status time note
            make command ran TIME never run
            shout command ran TIME never run
            count command ran TIME never run
            run 1: 3 stages: 3 ran, 0 cached in TIME

            """)
        #expect(project.directory.read("artifacts/ledger.sqlite") != nil || FileManager.default.fileExists(atPath: project.path + "/artifacts/ledger.sqlite"))

        let again = try project.pipe("run", "chain.yaml")
        #expect(again.status == 0)
        #expect(CLIProject.normalize(again.stdout).hasSuffix("run 2: 3 stages: 0 ran, 3 cached in TIME\n"))

        try project.directory.write("tools/upper.sh", "#!/bin/sh\ntr a-z A-Z\n# changed\n")
        let status = try project.pipe("status", "chain.yaml")
        #expect(CLIProject.normalize(status.stdout).contains("shout stale file `tools/upper.sh` modified"))
        #expect(CLIProject.normalize(status.stdout).contains("count stale upstream `shout` will run first"))
        #expect(status.stdout.contains("2 of 3 stages stale"))

        // The script's output is the same: early cut-off leaves `count` cached.
        let third = try project.pipe("run", "chain.yaml")
        #expect(CLIProject.normalize(third.stdout).contains("shout command ran TIME file `tools/upper.sh` modified"))
        #expect(CLIProject.normalize(third.stdout).contains("count command cached"))
    }

    @Test func statusNamesTheChangedParamAndKeyComponents() throws {
        let project = try CLIProject()
        try project.pipe("run", "chain.yaml")
        let status = try project.pipe("status", "chain.yaml", "--set", "params.greeting=bye")
        let lines = CLIProject.normalize(status.stdout).split(separator: "\n").map(String.init)
        #expect(lines[0] == #"make stale `command` changed "echo "hello" > "$PIPE_OUT/words.txt"" -> "echo "bye" > "$PIPE_OUT/words.txt"""#)
        #expect(lines[1] == "shout stale upstream `make` will run first")
        let forced = try project.pipe("run", "chain.yaml", "--force", "make")
        #expect(CLIProject.normalize(forced.stdout).contains("make command ran TIME forced"))
        #expect(CLIProject.normalize(forced.stdout).contains("shout command cached"))
    }

    @Test func outputsAndEnvironmentReachTheCommand() throws {
        let project = try CLIProject()
        try project.directory.write("env.yaml", """
            pipe: 1
            name: env
            seed: 5
            stages:
              first:
                kind: command
                with: {lr: 0.5, tags: [a, b]}
                env: {GREETING: hi}
                command: |
                  echo "$GREETING $PIPE_SEED $PIPE_STAGE" > "$PIPE_OUT/env.txt"
                  cat "$PIPE_PARAMS" > "$PIPE_OUT/params.json"
                  pwd > "$PIPE_OUT/cwd.txt"
                  mkdir "$PIPE_OUT/sub" && echo nested > "$PIPE_OUT/sub/n.txt"
                  echo to-the-log; echo to-stderr >&2
              second:
                kind: command
                inputs: {prev: first}
                command: cat "$PIPE_IN_prev/sub/n.txt" "$PIPE_IN_prev/env.txt" > "$PIPE_OUT/copy.txt"
            """)
        let result = try project.pipe("run", "env.yaml")
        #expect(result.status == 0, "\(result.stderr)")
        try project.pipe("get", "latest", "first", "--out", "got")
        let env = try #require(project.directory.read("got/env.txt"))
        #expect(env.hasPrefix("hi ") && env.hasSuffix(" first\n"))
        #expect(project.directory.read("got/params.json") == #"{"lr":0.5,"tags":["a","b"]}"#)
        #expect(project.directory.read("got/cwd.txt") == URL(fileURLWithPath: project.path).resolvingSymlinksInPath().path + "\n"
                || project.directory.read("got/cwd.txt") == project.path + "\n")
        #expect(project.directory.read("got/sub/n.txt") == "nested\n")
        #expect(try project.pipe("get", "latest", "first", "--log").stdout == "to-the-log\nto-stderr\n")
        try project.pipe("get", "latest", "second", "--out", "second")
        #expect(project.directory.read("second/copy.txt") == "nested\n" + env)
        // The seed is derived from the recipe seed and the stage name, and pinned by `seed:`.
        let pinned = try project.pipe("run", "env.yaml", "--set", "stages.first.seed=42")
        #expect(pinned.status == 0)
        try project.pipe("get", "latest", "first", "--out", "pinned")
        #expect(project.directory.read("pinned/env.txt") == "hi 42 first\n")
    }

    @Test func dagFormats() throws {
        let project = try CLIProject()
        #expect(try project.pipe("dag", "chain.yaml").stdout == """
            make [command]
            shout [command] <- words: make
            count [command] <- loud: shout

            """)
        let dot = try project.pipe("dag", "chain.yaml", "--format", "dot").stdout
        #expect(dot.contains(#""make" -> "shout" [label="words"];"#))
        let mermaid = try project.pipe("dag", "chain.yaml", "--format", "mermaid").stdout
        #expect(mermaid.contains("s_shout -->|loud| s_count"))
    }

    @Test func dryRunRunsNothingAndCreatesNoCache() throws {
        let project = try CLIProject()
        #expect(try project.pipe("status", "chain.yaml").stdout.contains("3 of 3 stages stale"))
        let dry = try project.pipe("run", "chain.yaml", "--dry-run")
        #expect(dry.status == 0)
        #expect(CLIProject.normalize(dry.stdout).contains("would run make never run"))
        #expect(CLIProject.normalize(dry.stdout).contains("would run shout upstream `make` will run first"))
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts"))
        #expect(try project.pipe("run", "chain.yaml").stdout.contains("3 ran"))
    }
}
