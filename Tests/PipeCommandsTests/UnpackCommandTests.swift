import Foundation
import PipeArchive
import PipeData
import PipeImaging
import PipeTestSupport
import Testing

/// `kind: unpack` through a recipe and the built binary.
struct UnpackCommandTests {
    @Test func unpackStageRunsFromARecipeAndIsKeyedByArchiveContent() throws {
        let project = try CLIProject()
        let archive = project.path + "/data.zip"
        let writer = try ArchiveWriter(path: archive, format: .zip)
        var records: [VQARecord] = []
        for i in 0..<6 {
            let image = try Image(width: 8, height: 8, channels: 1, pixels: (0..<64).map { UInt8(($0 + i * 9) % 250) })
            try writer.addFile("Images/D/\(i).png", try image.pngData())
            records.append(VQARecord(questionID: "\(i)", questionType: "Modality Recognition", modality: "CT",
                                     question: "?", options: ["CT", "MRI"], answer: 0, imagePath: "Images/D/\(i).png", dataset: "D"))
        }
        try writer.addFile("QA_information/Open-access/D.json", try OmniMedVQA.json(records))
        try writer.finish()
        try project.directory.write("unpack.yaml", """
            pipe: 1
            name: unpack
            seed: 1
            stages:
              split:
                kind: unpack
                with: {path: data.zip, size: 8, split: {test: 0.5, val: 0}}
            """)
        let run = try project.pipe("run", "unpack.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "split", "--out", "dataset")
        let index = try DatasetIndex.read(from: project.path + "/dataset/index.json")
        #expect(index.records.count == 6)
        #expect(index.records.filter { $0.split == .test }.count == 3)
        #expect(FileManager.default.contents(atPath: project.path + "/dataset/images.u8")?.count == 6 * 8 * 8 * 3)
        // Renaming the archive keeps the key; changing its bytes does not.
        try FileManager.default.copyItem(atPath: archive, toPath: project.path + "/renamed.zip")
        #expect(try project.pipe("status", "unpack.yaml", "--set", "stages.split.with.path=renamed.zip").stdout.contains("split  cached"))
        let bad = try project.pipe("run", "unpack.yaml", "--set", "stages.split.with.sise=3")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("stages.split.with.sise: unknown option `sise`\n  hint: did you mean `size`?"))

        // The same archive through an `archive` input, as `synth` will provide it; same dataset bytes.
        try project.directory.write("from-input.yaml", """
            pipe: 1
            name: from-input
            seed: 1
            stages:
              data:
                kind: command
                deps: [data.zip]
                command: cp data.zip "$PIPE_OUT/benchmark.zip"
              split:
                kind: unpack
                inputs: {archive: data}
                with: {size: 8, split: {test: 0.5, val: 0}}
            """)
        let piped = try project.pipe("run", "from-input.yaml")
        #expect(piped.status == 0, "\(piped.stdout)\(piped.stderr)")
        try project.pipe("get", "latest", "split", "--out", "dataset2")
        for file in ["images.u8", "index.json", "metrics.json"] {
            #expect(FileManager.default.contents(atPath: project.path + "/dataset/" + file)
                    == FileManager.default.contents(atPath: project.path + "/dataset2/" + file))
        }
        let both = try project.pipe("run", "from-input.yaml", "--set", "stages.split.with.path=data.zip")
        #expect(both.status == 2)
        #expect(both.stderr.contains("give either `with.path` or an `archive` input, not both"))
    }
}
