import ArgumentParser
@testable import PipeCommands
import PipeRecipe
import Testing

/// Every error that ends a command is rendered in one place (`ErrorReport`), with its exit code, and
/// a `UsageError` standing for a lower layer's error keeps it: its text and its hint are shown.
struct ErrorReportTests {
    struct Underlying: Error, CustomStringConvertible {
        var description: String
    }

    @Test func aUsageErrorShowsItsCauseAndHint() {
        let error = UsageError("cannot use the cache at /c", cause: Underlying(description: "permission denied"), hint: "chmod u+w /c")
        let report = ErrorReport.render(error)
        #expect(report.text == "error: cannot use the cache at /c: permission denied\n  hint: chmod u+w /c")
        #expect(report.exitCode == 2 && !report.toStandardOutput)
    }

    @Test func aWrappedErrorKeepsItsTextAndItsHintOnce() {
        let cause = Underlying(description: "remote https://x/: certificate not trusted\n  hint: add `ca-file:`")
        let error = UsageError(wrapping: cause)
        #expect(error.message == "remote https://x/: certificate not trusted")
        #expect(error.hint == "add `ca-file:`")
        #expect(ErrorReport.render(error).text == "error: remote https://x/: certificate not trusted\n  hint: add `ca-file:`")
        #expect(error.cause is Underlying)
    }

    @Test func aRecipeErrorUnderAUsageErrorKeepsItsHint() {
        let recipe = RecipeError(SourceLocation(file: "r.yaml", line: 3, column: 5), path: "stages.a.with.epoch", "unknown option `epoch`",
                                 hint: "did you mean `epochs`?")
        let error = UsageError("variant 2", cause: recipe)
        #expect(ErrorReport.render(error).text?.hasSuffix("\n  hint: did you mean `epochs`?") == true, "\(error)")
        #expect(ErrorReport.render(recipe).text == recipe.description && ErrorReport.render(recipe).exitCode == 2)
    }

    @Test func exitCodesAreUnchanged() {
        #expect(ErrorReport.render(ExitCode(1)).text == nil && ErrorReport.render(ExitCode(1)).exitCode == 1)
        #expect(ErrorReport.render(ExitCode(130)).exitCode == 130)
        #expect(ErrorReport.render(ValidationError("-j must be at least 1")).exitCode == 2)
        let help = ErrorReport.render(CleanExit.helpRequest())
        #expect(help.exitCode == 0 && help.toStandardOutput)
    }
}
