import Foundation
import FuzzSupport
import PipeData

/// Fuzzes the OmniMedVQA QA-file reader (`QAJSON` and the record checks behind
/// `OmniMedVQA.records`). Records it accepts must survive `OmniMedVQA.json` and a second read
/// unchanged: a writer and a reader that disagree are a bug too.
enum FuzzQAJSON {
    static func run(_ data: Data) {
        guard let records = try? OmniMedVQA.records(from: data, file: "fuzz.json") else { return }
        let again: [VQARecord]
        do {
            again = try OmniMedVQA.records(from: try OmniMedVQA.json(records), file: "fuzz.json")
        } catch {
            fatalError("records read from the input cannot be written and read again: \(error)")
        }
        precondition(again == records, "records changed on writing and reading them again")
    }
}

#if FUZZING
/// libFuzzer's entry point (`make fuzz`): one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    FuzzQAJSON.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
#else
/// Without libFuzzer: replays the files given.
@main
enum Replay {
    static func main() { FuzzReplayer.main(FuzzQAJSON.run) }
}
#endif
