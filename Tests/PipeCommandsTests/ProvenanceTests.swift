import Foundation
import PipeCommands
import PipeTestSupport
import Testing

/// The build commit pipe records: from the `.build-info` file make writes, only when it is not
/// older than the binary.
struct ProvenanceTests {
    @Test func theBuildCommitComesFromAFreshBuildInfoFile() throws {
        let directory = try TemporaryDirectory("build-info")
        let binary = try directory.write("pipe", "binary")
        #expect(Provenance.buildCommit(binary: binary) == "unknown (not built with make)")
        try directory.write("pipe.build-info", "commit 0123abc+dirty\n")
        #expect(Provenance.buildCommit(binary: binary) == "0123abc+dirty")
        // A binary rebuilt after the file was written: the file no longer describes it.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: binary)
        #expect(Provenance.buildCommit(binary: binary) == "unknown (not built with make)")
    }

    @Test func runsRecordTheCommitOfTheBinary() throws {
        let project = try CLIProject()
        #expect(try project.pipe("run", "chain.yaml").status == 0)
        let show = try project.pipe("show", "latest")
        // `make test` writes .build/debug/pipe.build-info; a plain `swift build` leaves it unknown.
        #expect(show.stdout.split(separator: "\n").contains { $0.hasPrefix("commit ") }, "\(show.stdout)")
        // Each stage that ran: its start and end, and the host.
        #expect(show.stdout.split(separator: "\n").filter { $0.hasPrefix("  time    ") && $0.contains(" to ") }.count == 3, "\(show.stdout)")
    }
}
