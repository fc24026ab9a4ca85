import Foundation
import PipeData
import PipeTestSupport
import Testing

/// `kind: synth` through a recipe and the built binary, feeding `unpack`.
struct SynthCommandTests {
    static let recipe = """
        pipe: 1
        name: bench
        seed: 4
        stages:
          data:
            kind: synth
            with:
              images: 48
              size: 16
              modalities: [CT, MRI, OCT]
          split:
            kind: unpack
            inputs: {archive: data}
            with: {size: 16, split: {test: 0.25, val: 0.25}}
        """

    @Test func synthFeedsUnpackEndToEnd() throws {
        let project = try CLIProject()
        try project.directory.write("bench.yaml", Self.recipe)
        let run = try project.pipe("run", "bench.yaml")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        try project.pipe("get", "latest", "data", "--out", "data")
        try project.pipe("get", "latest", "split", "--out", "dataset")
        let files = try FileManager.default.contentsOfDirectory(atPath: project.path + "/data").sorted()
        #expect(files == ["SynthMedVQA.zip", "metrics.json"])
        let index = try DatasetIndex.read(from: project.path + "/dataset/index.json")
        #expect(index.images.count == 48)
        #expect(index.records.count == 48 * 5)
        #expect(Set(index.records.map(\.record.modality)) == ["CT", "MRI", "OCT"])
        #expect(index.records.allSatisfy { $0.record.chainID == nil || ($0.record.chainStep ?? 0) >= 1 })
        #expect(Set(index.records.filter { $0.split == .test }.map(\.image)).count == 12)
        // A knob change re-runs synth and unpack; a second run with nothing changed is all cached.
        #expect(try project.pipe("run", "bench.yaml").stdout.contains("0 ran, 2 cached"))
        let status = try project.pipe("status", "bench.yaml", "--set", "stages.data.with.noise=0.2").stdout
        #expect(status.contains("data   stale"), "\(status)")
        // The seed decides the bytes: the same recipe elsewhere gives the same archive.
        let other = try CLIProject()
        try other.directory.write("bench.yaml", Self.recipe)
        try other.pipe("run", "bench.yaml", "--only", "data")
        try other.pipe("get", "latest", "data", "--out", "data")
        #expect(FileManager.default.contents(atPath: other.path + "/data/SynthMedVQA.zip")
                == FileManager.default.contents(atPath: project.path + "/data/SynthMedVQA.zip"))
    }

    @Test(arguments: [
        ("stages.data.with.modalities=[CT, PET]", "stages.data.with.modalities.1: `PET` is not one of CT, MRI, X-Ray, Ultrasound, OCT, Fundus Photography, Dermoscopy, Microscopy Images"),
        ("stages.data.with.options={min: 4, max: 2}", "stages.data.with.options: `min` (4) is larger than `max` (2)"),
        ("stages.data.with.difficulty=extreme", "stages.data.with.difficulty: `extreme` is not one of easy, hard, medium"),
        ("stages.data.with.imagse=3", "unknown option `imagse`\n  hint: did you mean `images`?"),
    ])
    func badOptionsAreRefusedWithTheirPlace(setting: String, message: String) throws {
        try CLIProject().expectRefused(recipe: Self.recipe, file: "bench.yaml", setting: setting, message: message)
    }

    @Test func modalityQuestionsNeedTwoModalities() throws {
        let project = try CLIProject()
        try project.directory.write("one.yaml", """
            pipe: 1
            name: one
            stages:
              data:
                kind: synth
                with:
                  modalities: [CT]
                  question_types: [Modality Recognition, Disease Diagnosis]
            """)
        let run = try project.pipe("validate", "one.yaml")
        #expect(run.status == 2)
        #expect(run.stderr.contains("one.yaml:8:23:"), "\(run.stderr)")
        #expect(run.stderr.contains("Modality Recognition needs at least two modalities"))
    }
}
