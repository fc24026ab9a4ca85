import Foundation
import PipeArchive
import PipeTestSupport
import Testing

/// Hostile recipes, experiments, datasets and ledgers through the built binary: a clear message,
/// the right exit code, nothing left in the cache's tmp/, and an end (no crash, no hang).
struct LimitsCommandTests {
    /// Whether the cache's tmp/ is absent or empty.
    static func tmpIsEmpty(_ project: CLIProject) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: project.path + "/artifacts/tmp")) ?? []).isEmpty
    }

    static func recipe(params: String, echo: String) -> String {
        "pipe: 1\nname: t\nparams:\n\(params)stages:\n  a:\n    kind: command\n    command: echo \(echo) > \"$PIPE_OUT/x\"\n"
    }

    static func aliasBomb() -> String {
        var params = "  l0: &l0 [a, a, a, a, a, a, a, a, a]\n"
        for level in 1...9 {
            let aliases: [String] = Array(repeating: "*l\(level - 1)", count: 9)
            params += "  l\(level): &l\(level) [" + aliases.joined(separator: ", ") + "]\n"
        }
        return recipe(params: params, echo: "hi")
    }

    static func doubling() -> String {
        var params = "  p0: x\n"
        for k in 1..<64 { params += "  p\(k): \"${params.p\(k - 1)}${params.p\(k - 1)}\"\n" }
        return recipe(params: params, echo: "${params.p63}")
    }

    static let hostile: [(String, String, String)] = [
        ("alias bomb", aliasBomb(), "more than 100000 values (counting each use of an alias `*name` in full)"),
        ("deep nesting", recipe(params: "  deep: " + String(repeating: "[", count: 100_000) + "\n", echo: "hi"), "r.yaml:4:"),
        ("doubling references", doubling(), "r.yaml:27:8: error: params.p23: `params.p23` holds more than 4194304 bytes of text"),
    ]

    @Test(arguments: hostile)
    func hostileRecipesAreRefused(name: String, text: String, message: String) throws {
        let project = try CLIProject()
        try project.directory.write("r.yaml", text)
        let run = try project.pipe("run", "r.yaml")
        #expect(run.status == 2, "\(name): \(run.stderr)")
        #expect(run.stderr.contains(message), "\(name): \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"), "\(name)")
    }

    @Test func aLongChainOfReferencesRuns() throws {
        let project = try CLIProject()
        var params = "  p0: x\n"
        for k in 1..<2_000 { params += "  p\(k): ${params.p\(k - 1)}\n" }
        try project.directory.write("r.yaml", Self.recipe(params: params, echo: "${params.p1999}"))
        let run = try project.pipe("run", "r.yaml")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.tmpIsEmpty(project))
    }

    @Test func aRecipeThatIsNotUTF8IsLocated() throws {
        let project = try CLIProject()
        var bytes = Array("pipe: 1\nname: caf".utf8)
        bytes += [0xe9, 0x0a]
        _ = FileManager.default.createFile(atPath: project.path + "/r.yaml", contents: Data(bytes))
        let run = try project.pipe("run", "r.yaml")
        #expect(run.status == 2)
        #expect(run.stderr == "r.yaml:2:10: error: not UTF-8 text: byte 0xE9 at offset 17\n  hint: save the file as UTF-8\n")
    }

    // MARK: Ablation grids

    static let thousand: String = (0..<1_000).map(String.init).joined(separator: ",")
    static let manySeeds: String = (1...20_000).map(String.init).joined(separator: ",")
    static let manySets: [String] = (0..<10_000).flatMap { (i: Int) -> [String] in ["--set", "stages.eval.env.V\(i)=\(i)"] }
    static let largeGrids: [String: ([String], String)] = [
        "1000 x 1000 axes": (["--axis", "params.scale=" + thousand, "--axis", "params.noise=" + thousand],
                             "the grid asks for 4000000 variants (1000 params.scale x 1000 params.noise x 2 zipped x 2 seeds), more than the limit of 1000"),
        "20,000 seeds": (["--seeds", manySeeds], "the grid asks for 80000 variants (2 params.scale x 2 zipped x 20000 seeds), more than the limit of 1000"),
        "10,000 --set": (manySets, "error: 10000 --set options, more than the limit of 1000"),
    ]

    @Test(arguments: ["1000 x 1000 axes", "20,000 seeds", "10,000 --set"])
    func largeGridsAreRefusedBeforeAnythingRuns(name: String) throws {
        let (arguments, message) = Self.largeGrids[name]!
        let project = try CLIProject()
        let run = try PipeBinary.run(["ablate", "ablate/grid-experiment.yaml"] + arguments, in: project.path)
        #expect(run.status == 2, "\(run.stderr.prefix(500))")
        #expect(run.stderr.contains(message), "\(run.stderr.prefix(500))")
        #expect(!FileManager.default.fileExists(atPath: project.path + "/artifacts/objects"))
        #expect(!FileManager.default.fileExists(atPath: project.path + "/ablations"))
    }

    @Test func anOverflowingGridIsRefused() throws {
        let project = try CLIProject()
        var text = "recipe: grid.yaml\ngrid:\n"
        for axis in 0..<20 { text += "  stages.eval.env.A\(axis): [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" }
        try project.directory.write("ablate/x.yaml", text)
        let run = try project.pipe("ablate", "ablate/x.yaml")
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("ablate/x.yaml:3:3: error: the grid asks for more than 9223372036854775807 variants (10 stages.eval.env.A0 x "), "\(run.stderr)")
    }

    @Test func experimentsThatCannotBeReadSayWhy() throws {
        let project = try CLIProject()
        try FileManager.default.createDirectory(atPath: project.path + "/ablate/dir.yaml", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: project.path + "/ablate/latin1.yaml", contents: Data([0x72, 0x3a, 0x20, 0xe9, 0x0a]))
        let cases: [(String, String)] = [("ablate/none.yaml", "error: cannot read experiment ablate/none.yaml: no such file\n  hint: experiments live in experiments/"),
                                ("ablate/dir.yaml", "error: cannot read experiment ablate/dir.yaml: it is a directory, not a file"),
                                ("ablate/latin1.yaml", "ablate/latin1.yaml:1:4: error: not UTF-8 text: byte 0xE9 at offset 3")]
        for (file, message) in cases {
            let run = try project.pipe("ablate", file)
            #expect(run.status == 2)
            #expect(run.stderr.hasPrefix(message), "\(run.stderr)")
        }
    }

    // MARK: QA files

    @Test func aDeeplyNestedQAFileFailsTheUnpackStage() throws {
        let project = try CLIProject()
        let writer = try ArchiveWriter(path: project.path + "/data.zip", format: .zip)
        try writer.addFile("QA_information/Open-access/D.json", Data(("[{\"question\": " + String(repeating: "[", count: 100_000)).utf8))
        try writer.finish()
        try project.directory.write("unpack.yaml", """
            pipe: 1
            name: unpack
            stages:
              split:
                kind: unpack
                with: {path: data.zip, size: 8}
            """)
        let run = try project.pipe("run", "unpack.yaml")
        #expect(run.status == 1)
        #expect(run.stderr.contains("D.json: lists and objects nested deeper than 64 levels at line 1, byte 76"), "\(run.stderr)")
        #expect(Self.tmpIsEmpty(project))
    }
}
