import Foundation
import FuzzSupport
import PipeEngine

/// Fuzzes what `pipe` reads back from a local or remote cache: tree listings
/// (`Tree(decoding:digest:)`) and action records (`ActionRecord(fileData:key:)`). Every input goes
/// through both. A listing that decodes must encode and decode again to the same listing.
enum FuzzCacheRecords {
    /// The key of the seed action records (fuzz/corpus/cache-records), so that they decode whole.
    static let key = Digest(hex: String(repeating: "ab", count: 32))!

    static func run(_ data: Data) {
        if let tree = try? Tree(decoding: data, digest: key) { checkRoundTrip(tree) }
        _ = ActionRecord(fileData: data, key: key)
    }

    static func checkRoundTrip(_ tree: Tree) {
        // Entries of one name may come out of the sort in either order; compare only unique names.
        guard Set(tree.entries.map(\.name)).count == tree.entries.count else { return }
        guard let again = try? Tree(decoding: tree.encoded, digest: key) else {
            fatalError("a decoded tree listing does not decode again once encoded")
        }
        precondition(again.encoded == tree.encoded, "a tree listing changed on encoding and decoding it again")
    }
}

#if FUZZING
/// libFuzzer's entry point (`make fuzz`): one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    FuzzCacheRecords.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
#else
/// Without libFuzzer: replays the files given.
@main
enum Replay {
    static func main() { FuzzReplayer.main(FuzzCacheRecords.run) }
}
#endif
