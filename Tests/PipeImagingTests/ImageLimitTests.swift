import Foundation
import PipeImaging
import Testing

/// Headers that declare huge images or chunks are refused from the header, as a size limit that
/// names the limit, before the decoders allocate for them.
struct ImageLimitTests {
    /// CRC-32 (PNG's) of `bytes`.
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }

    /// A PNG chunk with a correct CRC; `declaredLength` overrides the length field (the data stays short).
    static func chunk(_ type: String, _ data: [UInt8], declaredLength: UInt32? = nil) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(declaredLength ?? UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    /// A small valid RGB PNG with its IHDR saying `width` x `height` (CRC fixed up), and `extra` chunks after IHDR.
    static func png(width: UInt32 = 8, height: UInt32 = 8, extra: [UInt8] = []) throws -> Data {
        let real = [UInt8](try ImageCodecTests.pattern(width: 8, height: 8).pngData())
        // Signature (8), then IHDR: length (4), type (4), data (13), CRC (4).
        var ihdr = Array(real[16..<29])
        ihdr.replaceSubrange(0..<8, with: bigEndian(width) + bigEndian(height))
        return Data(real[0..<8] + chunk("IHDR", ihdr) + extra + real[33...])
    }

    /// A small baseline JPEG whose frame header says `width` x `height`.
    static func jpeg(width: UInt16, height: UInt16) throws -> Data {
        var bytes = [UInt8](try ImageCodecTests.pattern(width: 16, height: 16).jpegData())
        let sof = try #require((0..<(bytes.count - 9)).first { bytes[$0] == 0xff && bytes[$0 + 1] == 0xc0 })
        // FF C0, length (2), precision (1), height (2), width (2).
        bytes.replaceSubrange((sof + 5)...(sof + 8), with: [UInt8(height >> 8), UInt8(height & 0xff), UInt8(width >> 8), UInt8(width & 0xff)])
        return Data(bytes)
    }

    /// The IDAT bytes of `png()`.
    static func pngDataBytes() throws -> Int {
        let bytes = [UInt8](try png())
        var offset = 8, total = 0
        while offset + 8 <= bytes.count {
            let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            if bytes[(offset + 4)..<(offset + 8)].elementsEqual("IDAT".utf8) { total += length }
            offset += 12 + length
        }
        return total
    }

    struct Oversized: CustomTestStringConvertible, Sendable {
        var name: String
        var data: Data
        var maxPixels: Int
        var error: ImageError
        var testDescription: String { name }

        init(name: String, data: Data, maxPixels: Int, message: String) {
            self.init(name: name, data: data, maxPixels: maxPixels, error: .tooLarge(message))
        }

        init(name: String, data: Data, maxPixels: Int, error: ImageError) {
            self.name = name
            self.data = data
            self.maxPixels = maxPixels
            self.error = error
        }
    }

    static var oversized: [Oversized] {
        get throws {
            [
                Oversized(name: "PNG declaring 100000 x 100000", data: try png(width: 100_000, height: 100_000), maxPixels: Image.defaultMaxPixels,
                          message: "PNG is 100000 x 100000, beyond the size limit of 50000000 pixels"),
                Oversized(name: "PNG declaring 16384 x 16384 (libpng's side limit is not the cap)", data: try png(width: 16384, height: 16384),
                          maxPixels: Image.defaultMaxPixels, message: "PNG is 16384 x 16384, beyond the size limit of 50000000 pixels"),
                Oversized(name: "PNG of 8 x 8 under a cap of 63 pixels", data: try png(), maxPixels: 63,
                          message: "PNG is 8 x 8, beyond the size limit of 63 pixels"),
                Oversized(name: "PNG with a tEXt chunk declaring 2 GB", data: try png(extra: chunk("tEXt", Array("Comment\0x".utf8), declaredLength: 0x7fff_0000)),
                          maxPixels: Image.defaultMaxPixels,
                          message: "PNG chunk `tEXt` declares 2147418112 bytes, beyond the size limit of 8000000 bytes per chunk"),
                Oversized(name: "PNG with 1001 small chunks", data: try png(extra: (0..<1001).flatMap { _ in chunk("tEXt", Array("k\0v".utf8)) }),
                          maxPixels: Image.defaultMaxPixels, message: "PNG has more than 1000 chunks besides its image data, beyond the size limit of 1000"),
                Oversized(name: "JPEG declaring 60000 x 60000", data: try jpeg(width: 60000, height: 60000), maxPixels: Image.defaultMaxPixels,
                          message: "JPEG is 60000 x 60000, beyond the size limit of 50000000 pixels"),
                Oversized(name: "JPEG of 16 x 16 under a cap of 255 pixels", data: try jpeg(width: 16, height: 16), maxPixels: 255,
                          message: "JPEG is 16 x 16, beyond the size limit of 255 pixels"),
                // Within the cap, but too short to hold what the header declares: truncated, refused before allocating.
                Oversized(name: "PNG declaring 4000 x 4000 over 8 x 8 pixels of data", data: try png(width: 4000, height: 4000),
                          maxPixels: Image.defaultMaxPixels, error: .corrupt("truncated PNG: \(try pngDataBytes()) bytes of image data cannot hold 4000 x 4000 pixels")),
                Oversized(name: "JPEG declaring 7000 x 7000 over 16 x 16 pixels of data", data: try jpeg(width: 7000, height: 7000),
                          maxPixels: Image.defaultMaxPixels,
                          error: .corrupt("corrupt JPEG: \(try jpeg(width: 7000, height: 7000).count) bytes cannot hold a 7000 x 7000 image (truncated)")),
            ]
        }
    }

    @Test(arguments: try oversized)
    func oversizedHeadersAreRefusedAsASizeLimit(_ input: Oversized) throws {
        #expect(input.data.count < 20_000, "the fixture itself is tiny")
        var before = rusage()
        getrusage(RUSAGE_SELF.rawValue, &before)
        #expect(throws: input.error) { try Image(decoding: input.data, maxPixels: input.maxPixels) }
        var buffer = [UInt8](repeating: 0, count: 16 * 16 * 3)
        if input.data.starts(with: [0xff, 0xd8]) {
            #expect(throws: input.error) {
                try buffer.withUnsafeMutableBytes { try Image.decodeJPEG(input.data, into: $0, width: 16, height: 16, maxPixels: input.maxPixels) }
            }
        }
        // ru_maxrss (KiB) is the process's peak: decoding must not have touched hundreds of MB.
        var after = rusage()
        getrusage(RUSAGE_SELF.rawValue, &after)
        #expect(after.ru_maxrss - before.ru_maxrss < 200 << 10, "peak RSS grew by \(after.ru_maxrss - before.ru_maxrss) KiB")
    }

    @Test func imagesWithinTheCapStillDecode() throws {
        #expect(try Image(decoding: try Self.png(), maxPixels: 64).width == 8)
        #expect(try Image(decoding: try Self.png(extra: Self.chunk("tEXt", Array("Comment\0fine".utf8)))).width == 8)
        #expect(try Image(decoding: try ImageCodecTests.pattern(width: 16, height: 16).jpegData(), maxPixels: 256).height == 16)
    }
}

/// Each scan of a progressive JPEG is a pass over the whole image: their number is capped.
struct JPEGScanLimitTests {
    static let gray = (0..<(32 * 32)).map { UInt8(truncatingIfNeeded: $0 * 7) }

    @Test func aJPEGOfMoreThan500ScansIsRefused() throws {
        // 1 + 63 x 11 = 694 scans.
        let many = try Image.progressiveGrayJPEGData(width: 32, height: 32, pixels: Self.gray, refinements: 10)
        #expect(throws: ImageError.tooLarge("JPEG has more than 500 scans, beyond the size limit of 500 scans")) {
            try Image(decoding: many)
        }
        // 1 + 63 x 6 = 379 scans decode, to the same pixels as a baseline JPEG would within JPEG's error.
        let fewer = try Image(decoding: try Image.progressiveGrayJPEGData(width: 32, height: 32, pixels: Self.gray, refinements: 5))
        #expect(fewer.width == 32 && fewer.channels == 1)
        let reference = try Image(decoding: try Image(width: 32, height: 32, channels: 1, pixels: Self.gray).jpegData(quality: 75))
        let difference = zip(fewer.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(difference <= 40, "max difference \(difference)")
    }
}
