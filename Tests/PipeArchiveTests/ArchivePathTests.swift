import Testing
@testable import PipeArchive

/// Entry-path normalization: the byte-level fast path agrees with the general one.
struct ArchivePathTests {
    @Test(arguments: [
        ("a/b/c.png", "a/b/c.png"), ("a", "a"), ("a/./b", "a/b"), ("./a", "a"), ("a//b/", "a/b"), ("a/.hidden", "a/.hidden"),
        ("...", "..."), ("a/.../b", "a/.../b"), ("a.", "a."), ("..a/b", "..a/b"), ("a\\b", "a/b"), ("é/ü.jpg", "é/ü.jpg"),
    ])
    func normalPathsAreKeptOrCleaned(raw: String, expected: String) {
        #expect(ArchivePath.normalize(raw) == expected)
        #expect(ArchivePath.isNormal(raw) == (raw == expected && !raw.contains("\\")))
    }

    @Test(arguments: ["", "/etc/passwd", "\\x", "a/../../b", "..", "a/..", "../a", "C:\\x", "C:/x", "a\u{0}b", ".", "./", "/"])
    func unsafePathsAreRefused(raw: String) {
        #expect(ArchivePath.normalize(raw) == nil)
        #expect(!ArchivePath.isNormal(raw))
    }
}
