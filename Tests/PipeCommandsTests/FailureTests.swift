import Foundation
import PipeTestSupport
import Testing

/// Bad input exits 2 with a located message and writes nothing; a failing stage exits 1.
struct FailureTests {
    static let failing = """
        pipe: 1
        name: failing
        stages:
          ok:
            kind: command
            command: echo fine > "$PIPE_OUT/ok.txt"
          broken:
            kind: command
            inputs: {in: ok}
            command: |
              echo "line one"
              echo "something went wrong" >&2
              exit 3
          after:
            kind: command
            inputs: {in: broken}
            command: echo never > "$PIPE_OUT/x"
          independent:
            kind: command
            inputs: {in: ok}
            command: echo also > "$PIPE_OUT/y"
        """

    @Test func failingStageExits1WithItsLogAndSkipsDependants() throws {
        let project = try CLIProject()
        try project.directory.write("failing.yaml", Self.failing)
        let result = try project.pipe("run", "failing.yaml")
        #expect(result.status == 1)
        let out = CLIProject.normalize(result.stdout)
        #expect(out.contains("broken command failed TIME command exited with status 3"))
        #expect(out.contains("after command skipped - upstream `broken` failed"))
        #expect(out.contains("--- last lines of broken's log ---\nline one\nsomething went wrong"))
        let kept = try project.pipe("run", "failing.yaml", "--keep-going")
        #expect(kept.status == 1)
        #expect(CLIProject.normalize(kept.stdout).contains("independent command ran"))
        #expect(try project.pipe("runs").stdout.contains("failed"))
        #expect(try project.pipe("cache", "verify").status == 0)
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        var name: String
        var arguments: [String]
        var stderr: String
        var testDescription: String { name }
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "missing recipe", arguments: ["run", "nope.yaml"],
                 stderr: "error: cannot read recipe nope.yaml: no such file\n  hint: recipes live in recipes/, e.g. `pipe run recipes/demo.yaml`\n"),
        BadInput(name: "recipe error", arguments: ["run", "chain.yaml", "--set", "stages.shout.inputs.words=mkae"],
                 stderr: "--set stages.shout.inputs.words=mkae: error: stages.shout.inputs.words: no stage named `mkae`\n  hint: did you mean `make`?\n"),
        BadInput(name: "unknown --force stage", arguments: ["run", "chain.yaml", "--force", "shuot"],
                 stderr: "error: --force shuot: no stage `shuot` in chain.yaml\n  hint: did you mean `shout`?\n"),
        BadInput(name: "missing dependency file", arguments: ["status", "chain.yaml", "--set", "stages.shout.deps=[tools/lower.sh]"],
                 stderr: "--set stages.shout.deps=[tools/lower.sh]: error: stages.shout.deps: cannot read dependency `tools/lower.sh` (\(CLIPath.placeholder)/tools/lower.sh): no such file or directory\n  hint: relative paths resolve against the recipe's directory\n"),
        BadInput(name: "bad -j", arguments: ["run", "chain.yaml", "-j", "0"], stderr: "Error: -j must be at least 1 (got 0)\n"),
        BadInput(name: "unknown option", arguments: ["run", "chain.yaml", "--frobnicate"], stderr: "Error: Unknown option '--frobnicate'\n"),
        BadInput(name: "unknown run", arguments: ["show", "99"], stderr: "error: no run `99` in \(CLIPath.placeholder)/artifacts\n  hint: `pipe runs` lists the recorded runs\n"),
    ]

    @Test(arguments: badInputs)
    func badInputExits2WithAClearMessageAndWritesNothing(_ test: BadInput) throws {
        let project = try CLIProject()
        let result = try PipeBinary.run(test.arguments, in: project.path)
        #expect(result.status == 2)
        let stderr = result.stderr.replacingOccurrences(of: project.path, with: CLIPath.placeholder)
        #expect(stderr.hasPrefix(test.stderr), "\(stderr)")
        #expect(result.stdout.isEmpty)
        let objects = (try? FileManager.default.contentsOfDirectory(atPath: project.path + "/artifacts/objects")) ?? []
        #expect(objects.isEmpty)
    }
}

enum CLIPath {
    static let placeholder = "$PROJECT"
}
