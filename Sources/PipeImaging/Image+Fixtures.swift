import Foundation
import ImageCodecShims

/// JPEGs pipe itself never writes, made with libjpeg for tests of the decoder: CMYK, and progressive
/// files of many scans.
extension Image {
    /// A CMYK JPEG of `pixels` (4 samples per pixel, 0 = no ink), Adobe-inverted under an Adobe marker
    /// as Photoshop saves it, or plain without one.
    public static func cmykJPEGData(width: Int, height: Int, pixels: [UInt8], adobeInverted: Bool) throws -> Data {
        guard width > 0, height > 0, pixels.count == width * height * 4 else {
            throw ImageError.invalid("\(width)x\(height)x4 with \(pixels.count) samples")
        }
        return try encoded { pipe_jpeg_encode_cmyk(pixels, Int32(width), Int32(height), adobeInverted ? 1 : 0, $0, $1, $2, $3) }
    }

    /// A gray progressive JPEG of 1 + 63 x (1 + `refinements`) scans (0-10 refinements).
    public static func progressiveGrayJPEGData(width: Int, height: Int, pixels: [UInt8], refinements: Int) throws -> Data {
        guard width > 0, height > 0, pixels.count == width * height else {
            throw ImageError.invalid("\(width)x\(height)x1 with \(pixels.count) samples")
        }
        return try encoded { pipe_jpeg_encode_progressive_gray(pixels, Int32(width), Int32(height), Int32(refinements), $0, $1, $2, $3) }
    }
}
