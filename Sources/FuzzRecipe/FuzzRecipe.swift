import Foundation
import FuzzSupport
import PipeRecipe

/// Fuzzes the recipe reader as `pipe` uses it on a recipe file: UTF-8 text, then YAML with source
/// positions, `${...}` interpolation, the model's checks and the stage graph (`Recipe.parse`); and
/// the experiment (ablation) reader on the same text. Any thrown error is a correct answer.
enum FuzzRecipe {
    /// The built-in stage kinds (`pipe kinds`), so that stage checks get past the kind.
    static let kinds = ["at-grpo", "command", "evaluate", "grpo", "report", "sft", "smooth", "synth", "unpack"]

    static func run(_ data: Data) {
        guard let text = String(data: data, encoding: .utf8) else { return }
        _ = try? Recipe.parse(text, file: "fuzz.yaml", kinds: kinds)
        _ = try? Experiment.parse(text, file: "fuzz.yaml")
    }
}

#if FUZZING
/// libFuzzer's entry point (`make fuzz`): one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    FuzzRecipe.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
#else
/// Without libFuzzer: replays the files given.
@main
enum Replay {
    static func main() { FuzzReplayer.main(FuzzRecipe.run) }
}
#endif
