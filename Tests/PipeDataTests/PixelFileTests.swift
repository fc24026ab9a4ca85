import Foundation
@testable import PipeData
import PipeImaging
import PipeTestSupport
import Testing

/// `images.u8` through its buffer: images of any size, JPEGs decoded in place, failures leaving nothing.
struct PixelFileTests {
    @Test func writesEveryImageInOrderWhateverItsSize() throws {
        let directory = try TemporaryDirectory("pixels")
        let path = directory.path + "/images.u8"
        let file = try PixelFile(path: path)
        // Small images filling the buffer past its 4 MiB, one larger than the buffer, then small ones again.
        let sizes = Array(repeating: 12_288, count: 400) + [5 << 20] + Array(repeating: 768, count: 3)
        var expected: [UInt8] = []
        for (k, size) in sizes.enumerated() {
            let pixels = [UInt8](repeating: UInt8(truncatingIfNeeded: k &* 37 &+ 1), count: size)
            try file.append(pixels)
            expected += pixels
        }
        var image = Image(width: 8, height: 8, channels: 3)
        for y in 0..<8 { for x in 0..<8 { for c in 0..<3 { image[x, y, c] = UInt8((x * 30 + y * 3 + c * 70) % 256) } } }
        let jpeg = try image.jpegData()
        #expect(try file.appendJPEG(jpeg, side: 8))
        expected += try Image(decoding: jpeg).pixels
        // A PNG is not a JPEG, a corrupt JPEG throws: neither leaves bytes behind.
        #expect(try !file.appendJPEG(try image.pngData(), side: 8))
        #expect(throws: ImageError.self) { _ = try file.appendJPEG(Data([0xff, 0xd8, 1, 2, 3]), side: 8) }
        try file.close()
        #expect(FileManager.default.contents(atPath: path) == Data(expected))
    }
}
