import Foundation
import PipeImaging
import Testing

/// JPEG and PNG through libjpeg and libpng: round trips, determinism, and inputs that must fail cleanly.
struct ImageCodecTests {
    /// A smooth test pattern (JPEG-friendly), gray or RGB.
    static func pattern(width: Int = 32, height: Int = 24, channels: Int = 3) -> Image {
        var image = Image(width: width, height: height, channels: channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { image[x, y, c] = UInt8(min(255, 20 + x * 4 + y * 3 + c * 30)) }
            }
        }
        return image
    }

    static func maxDifference(_ a: Image, _ b: Image) -> Int {
        zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    @Test(arguments: [1, 3])
    func jpegRoundTripIsCloseAndEncodingIsDeterministic(channels: Int) throws {
        let image = Self.pattern(channels: channels)
        let data = try image.jpegData(quality: 95)
        #expect(data.starts(with: [0xff, 0xd8]))
        #expect(try image.jpegData(quality: 95) == data)
        let decoded = try Image(decoding: data)
        #expect(decoded.width == 32 && decoded.height == 24 && decoded.channels == channels)
        let difference = Self.maxDifference(image, decoded)
        #expect(difference <= 12, "max difference \(difference)")
    }

    @Test(arguments: [1, 3])
    func pngRoundTripIsExact(channels: Int) throws {
        let image = Self.pattern(width: 17, height: 9, channels: channels)
        #expect(try Image(decoding: try image.pngData()) == image)
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var message: String
        var testDescription: String { name }
    }

    static var badInputs: [BadInput] {
        let jpeg = [UInt8](try! pattern().jpegData())
        let png = [UInt8](try! pattern().pngData())
        var random = SystemRandomNumberGenerator()
        var noise = [UInt8](repeating: 0, count: 2048)
        for i in noise.indices { noise[i] = UInt8.random(in: 0...255, using: &random) }
        var scribbled = jpeg
        for i in stride(from: 200, to: min(scribbled.count, 600), by: 7) { scribbled[i] = 0xff }
        var badPrecision = jpeg
        if let sof = (0..<(badPrecision.count - 4)).first(where: { badPrecision[$0] == 0xff && badPrecision[$0 + 1] == 0xc0 }) {
            badPrecision[sof + 4] = 3
        }
        var pngBadCRC = png
        pngBadCRC[29] ^= 0xff
        return [
            BadInput(name: "empty", bytes: [], message: "empty image file"),
            BadInput(name: "random bytes", bytes: noise.map { $0 == 0xff ? 0 : $0 }, message: "not a JPEG or PNG file"),
            BadInput(name: "JPEG header then noise", bytes: [0xff, 0xd8] + noise, message: "corrupt"),
            BadInput(name: "JPEG cut in its tables", bytes: Array(jpeg.prefix(300)), message: "corrupt JPEG"),
            BadInput(name: "JPEG cut in its scan", bytes: Array(jpeg.prefix(jpeg.count - 40)), message: "truncated JPEG"),
            BadInput(name: "JPEG signature only", bytes: [0xff, 0xd8], message: "corrupt"),
            BadInput(name: "scribbled JPEG", bytes: scribbled, message: "JPEG"),
            BadInput(name: "JPEG with bad precision", bytes: badPrecision, message: "corrupt JPEG"),
            BadInput(name: "truncated PNG", bytes: Array(png.prefix(png.count - 20)), message: "corrupt PNG"),
            BadInput(name: "PNG signature only", bytes: Array(png.prefix(8)), message: "corrupt PNG"),
            BadInput(name: "PNG with a bad header CRC", bytes: pngBadCRC, message: "corrupt PNG"),
        ]
    }

    @Test(arguments: badInputs)
    func badInputIsAnErrorNotACrash(_ input: BadInput) {
        do {
            let image = try Image(decoding: Data(input.bytes))
            Issue.record("decoded \(image.width)x\(image.height) from \(input.name)")
        } catch let error as ImageError {
            #expect(error.description.contains(input.message), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func jpegDecodedInPlaceEqualsTheDecodedImage() throws {
        let data = try Self.pattern(width: 32, height: 24, channels: 3).jpegData()
        var buffer = [UInt8](repeating: 7, count: 32 * 24 * 3)
        #expect(try buffer.withUnsafeMutableBytes { try Image.decodeJPEG(data, into: $0, width: 32, height: 24) })
        #expect(buffer == (try Image(decoding: data)).pixels)
        // Another size, a gray JPEG or a PNG: false, nothing written.
        var untouched = [UInt8](repeating: 7, count: 16 * 24 * 3)
        #expect(try !untouched.withUnsafeMutableBytes { try Image.decodeJPEG(data, into: $0, width: 16, height: 24) })
        let gray = try Self.pattern(width: 16, height: 24, channels: 1).jpegData()
        #expect(try !untouched.withUnsafeMutableBytes { try Image.decodeJPEG(gray, into: $0, width: 16, height: 24) })
        let png = try Self.pattern(width: 16, height: 24, channels: 3).pngData()
        #expect(try !untouched.withUnsafeMutableBytes { try Image.decodeJPEG(png, into: $0, width: 16, height: 24) })
        #expect(untouched.allSatisfy { $0 == 7 })
        // A truncated JPEG of the right size is an error, as when decoding it into a new image.
        #expect(throws: ImageError.self) {
            try buffer.withUnsafeMutableBytes { try Image.decodeJPEG(data.prefix(data.count - 40), into: $0, width: 32, height: 24) }
        }
    }

    @Test func areaResizeAveragesExactly() throws {
        // 4x2 gray -> 2x1: each output pixel is the mean of a 2x2 block.
        let image = try Image(width: 4, height: 2, channels: 1, pixels: [0, 10, 20, 30, 40, 50, 60, 70])
        #expect(image.resized(width: 2, height: 1).pixels == [25, 45])
        // 3 -> 2 columns: weights 1 and 0.5 per output, (0*1 + 30*0.5) / 1.5 = 10, (30*0.5 + 90*1) / 1.5 = 70.
        let row = try Image(width: 3, height: 1, channels: 1, pixels: [0, 30, 90])
        #expect(row.resized(width: 2, height: 1).pixels == [10, 70])
        // Upscaling replicates.
        #expect(row.resized(width: 6, height: 1).pixels == [0, 0, 30, 30, 90, 90])
        // A constant image stays constant.
        let flat = try Image(width: 7, height: 5, channels: 3, pixels: [UInt8](repeating: 77, count: 105))
        #expect(Set(flat.resized(width: 3, height: 2).pixels) == [77])
    }

    @Test func grayToRGBRepeatsTheValue() throws {
        let gray = try Image(width: 2, height: 1, channels: 1, pixels: [5, 200])
        #expect(gray.rgb.pixels == [5, 5, 5, 200, 200, 200])
    }

    @Test func invalidShapesAreErrors() {
        #expect(throws: ImageError.self) { try Image(width: 2, height: 2, channels: 3, pixels: [0, 1]) }
        #expect(throws: ImageError.self) { try Image(width: 0, height: 2, channels: 1, pixels: []) }
    }
}
