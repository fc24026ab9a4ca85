import Testing
@testable import PipeData

/// Interned strings read back as the bytes given, and equal long strings share one storage.
struct StringInternerTests {
    /// A string's two words: equal for two values sharing one storage (or equal inline strings).
    func bits(_ string: String) -> (UInt64, UInt64) { unsafeBitCast(string, to: (UInt64, UInt64).self) }

    func intern(_ interner: inout StringInterner, _ text: String) -> String {
        Array(text.utf8).withUnsafeBufferPointer { interner.string($0) }
    }

    @Test func equalLongStringsShareStorageAcrossGrowth() {
        var interner = StringInterner()
        let texts = (0..<10_000).map { "Images/SynthCT/SynthCT_\($0).jpg — é" }
        let first = texts.map { intern(&interner, $0) }
        let second = texts.reversed().map { intern(&interner, $0) }.reversed()
        for (text, (a, b)) in zip(texts, zip(first, second)) {
            #expect(a == text && b == text)
            #expect(bits(a) == bits(b))
        }
        #expect(intern(&interner, "short") == "short")
        #expect(intern(&interner, "") == "")
    }

    @Test func pastItsCapacityStringsAreStillRight() {
        var interner = StringInterner(capacity: 2)
        let texts = ["What modality is this image?", "Which grade fits this lesion best?", "How many cells are in view here?"]
        for _ in 0..<2 {
            for text in texts { #expect(intern(&interner, text) == text) }
        }
        #expect(bits(intern(&interner, texts[0])) == bits(intern(&interner, texts[0])))
        #expect(intern(&interner, texts[2]) == texts[2])
    }
}
