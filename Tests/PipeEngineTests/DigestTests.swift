import Foundation
import PipeEngine
import PipeTestSupport
import Testing

/// A file's digest is the digest of its bytes, whatever its size against the read buffer.
struct DigestTests {
    @Test(arguments: [0, 1, 256 << 10, (256 << 10) + 1, 700_001])
    func fileDigestEqualsTheDigestOfItsBytes(size: Int) throws {
        let directory = try TemporaryDirectory("digest")
        let path = directory.path + "/file"
        let bytes = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) })
        #expect(FileManager.default.createFile(atPath: path, contents: bytes))
        #expect(try Digest.of(fileAt: path) == Digest.of(bytes))
    }

    @Test func aMissingFileIsAnIOErrorNamingIt() throws {
        let directory = try TemporaryDirectory("digest")
        #expect { _ = try Digest.of(fileAt: directory.path + "/absent") } throws: { error in
            guard case .io(let message)? = error as? EngineError else { return false }
            return message.contains("/absent") && message.contains("No such file")
        }
    }
}
