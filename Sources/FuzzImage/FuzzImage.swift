import Foundation
import FuzzSupport
import PipeImaging

/// Fuzzes the JPEG and PNG decoders (`Image(decoding:)` and `Image.decodeJPEG(_:into:width:height:)`,
/// over the C shims and the system's libjpeg and libpng). A PNG's chunk checksums are recomputed
/// before decoding, so that changed bytes reach the decoder instead of failing the checksum: rerun a
/// finding through this target (it replays files) rather than through `pipe`.
enum FuzzImage {
    static func run(_ data: Data) {
        let input = data.starts(with: [0x89, 0x50, 0x4e, 0x47]) ? repairingPNGChecksums(data) : data
        guard let image = try? Image(decoding: input) else { return }
        precondition(image.pixels.count == image.width * image.height * image.channels, "decoded image of the wrong size")
        guard image.channels == 3 else { return }
        var pixels = [UInt8](repeating: 0, count: image.pixels.count)
        _ = pixels.withUnsafeMutableBytes { try? Image.decodeJPEG(input, into: $0, width: image.width, height: image.height) }
    }

    /// `png` with each chunk's CRC-32 set to match its type and data, as far as the chunks are whole.
    static func repairingPNGChecksums(_ png: Data) -> Data {
        var bytes = [UInt8](png)
        var at = 8
        while at + 12 <= bytes.count {
            let length = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= bytes.count - at - 12 else { break }
            let crc = crc32(bytes[at + 4..<at + 8 + length])
            for i in 0..<4 { bytes[at + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i)) }
            at += 12 + length
        }
        return Data(bytes)
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        (0..<8).reduce(UInt32(n)) { c, _ in c & 1 == 1 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { crcTable[Int(($0 ^ UInt32($1)) & 0xff)] ^ ($0 >> 8) }
    }
}

#if FUZZING
/// libFuzzer's entry point (`make fuzz`): one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    FuzzImage.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
#else
/// Without libFuzzer: replays the files given.
@main
enum Replay {
    static func main() { FuzzReplayer.main(FuzzImage.run) }
}
#endif
