import PipeRecipe
import Testing

/// `resources:` of a stage: what a cluster scheduler is asked for, validated with locations.
struct StageResourcesTests {
    static func recipe(_ resources: String) -> String {
        """
        pipe: 1
        name: t
        stages:
          a:
            kind: command
            command: echo a
            resources: \(resources)
        """
    }

    @Test func resourcesAreReadInSlurmsTerms() throws {
        let parsed = try Recipe.parse(Self.recipe(#"{cpus: 8, gpus: 1, memory: 32G, time: "1-12:00:00", partition: gpu}"#), file: "r.yaml", kinds: ["command"])
        let resources = try #require(parsed.stage("a")).resources
        #expect(resources == StageResources(cpus: 8, gpus: 1, memory: "32G", time: "1-12:00:00", partition: "gpu"))
        #expect(resources.fields == ["cpus": "8", "gpus": "1", "memory": "32G", "time": "1-12:00:00", "partition": "gpu"])
        // A number of megabytes, a number of minutes.
        let numbers = try Recipe.parse(Self.recipe("{memory: 500, time: 90}"), file: "r.yaml", kinds: ["command"])
        #expect(numbers.stage("a")?.resources.fields == ["memory": "500M", "time": "90"])
        let none = try Recipe.parse(Self.recipe("{}"), file: "r.yaml", kinds: ["command"])
        #expect(none.stage("a")?.resources.fields == [:])
        // --set reaches them.
        let overridden = try Recipe.parse(Self.recipe("{cpus: 2}"), file: "r.yaml", overrides: [try Override(parsing: "stages.a.resources.cpus=4")], kinds: ["command"])
        #expect(overridden.stage("a")?.resources.cpus == 4)
    }

    @Test(arguments: [
        ("{cpus: 0}", "r.yaml:7:23: error: stages.a.resources.cpus: expected an integer >= 1, got an integer `0`"),
        ("{gpus: two}", "r.yaml:7:23: error: stages.a.resources.gpus: expected an integer >= 0, got a string `\"two\"`"),
        ("{memory: lots}", "r.yaml:7:25: error: stages.a.resources.memory: expected a memory size such as 500M or 32G"),
        ("{time: \"2:00:00:00\"}", "r.yaml:7:23: error: stages.a.resources.time: expected a time limit"),
        ("{time: 1-}", "r.yaml:7:23: error: stages.a.resources.time: expected a time limit"),
        ("{partiton: gpu}", "r.yaml:7:17: error: stages.a.resources.partiton: unknown resource `partiton`\n  hint: did you mean `partition`?"),
        ("8", "r.yaml:7:16: error: stages.a.resources: expected a mapping of resources, got an integer"),
    ])
    func badResourcesAreRefusedWithTheirLocation(resources: String, expected: String) throws {
        #expect {
            try Recipe.parse(Self.recipe(resources), file: "r.yaml", kinds: ["command"])
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    @Test func timeFormats() {
        for good in ["90", "30:00", "2:00:00", "1-12", "1-12:30", "1-12:30:00"] {
            #expect(StageResources.isTimeLimit(good), "\(good)")
        }
        for bad in ["0", "", "1:2:3:4", "a", "1-", "-1", "1--2", "1:"] {
            #expect(!StageResources.isTimeLimit(bad), "\(bad)")
        }
    }
}
