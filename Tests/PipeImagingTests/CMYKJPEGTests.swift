import Foundation
import PipeImaging
import Testing

/// CMYK JPEGs (print workflows, Photoshop) decode to RGB, Adobe's inverted samples included.
struct CMYKJPEGTests {
    /// Four 8 x 8 quadrants (one JPEG block each): CMYK ink amounts and the RGB they print as.
    static let quadrants: [(cmyk: [UInt8], rgb: [UInt8])] = [
        ([0, 255, 255, 0], [255, 0, 0]),        // magenta + yellow: red
        ([255, 0, 255, 0], [0, 255, 0]),        // cyan + yellow: green
        ([255, 255, 0, 0], [0, 0, 255]),        // cyan + magenta: blue
        ([0, 0, 0, 128], [127, 127, 127]),      // half black: gray
    ]

    static func cmykPixels() -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: 16 * 16 * 4)
        for y in 0..<16 {
            for x in 0..<16 {
                let quadrant = (y / 8) * 2 + x / 8
                pixels.replaceSubrange((y * 16 + x) * 4..<(y * 16 + x + 1) * 4, with: quadrants[quadrant].cmyk)
            }
        }
        return pixels
    }

    @Test(arguments: [false, true])
    func cmykJPEGDecodesToRGB(adobeInverted: Bool) throws {
        let data = try Image.cmykJPEGData(width: 16, height: 16, pixels: Self.cmykPixels(), adobeInverted: adobeInverted)
        // An Adobe APP14 marker ("Adobe") is present exactly when the samples are inverted.
        let adobe = Data("Adobe".utf8)
        #expect((data.range(of: adobe) != nil) == adobeInverted)
        let image = try Image(decoding: data)
        #expect(image.width == 16 && image.height == 16 && image.channels == 3)
        for (k, quadrant) in Self.quadrants.enumerated() {
            let x = (k % 2) * 8 + 4, y = (k / 2) * 8 + 4
            let got = (0..<3).map { image[x, y, $0] }
            let difference = zip(got, quadrant.rgb).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(difference <= 4, "quadrant \(k): \(got), expected \(quadrant.rgb)")
        }
        // Not an RGB JPEG: the direct path declines it, writing nothing, and the caller decodes it as above.
        var buffer = [UInt8](repeating: 7, count: 16 * 16 * 3)
        #expect(try !buffer.withUnsafeMutableBytes { try Image.decodeJPEG(data, into: $0, width: 16, height: 16) })
        #expect(buffer.allSatisfy { $0 == 7 })
    }
}
