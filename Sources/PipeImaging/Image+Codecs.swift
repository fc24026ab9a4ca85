import Foundation
import ImageCodecShims

extension Image {
    /// The pixel cap (width x height) decoders apply unless told otherwise: 50 megapixels.
    public static let defaultMaxPixels = Int(PIPE_IMAGE_DEFAULT_MAX_PIXELS)

    /// Decodes a JPEG or PNG (recognized by its signature). An image of more than `maxPixels` pixels
    /// is refused with `ImageError.tooLarge` from its header, before anything is allocated for it.
    public init(decoding data: Data, maxPixels: Int = Image.defaultMaxPixels) throws {
        if data.starts(with: [0xff, 0xd8]) {
            self = try Self.decode(data, maxPixels: maxPixels, with: pipe_jpeg_decode)
        } else if data.starts(with: [0x89, 0x50, 0x4e, 0x47]) {
            self = try Self.decode(data, maxPixels: maxPixels, with: pipe_png_decode)
        } else {
            throw ImageError.unsupported(data.isEmpty ? "empty image file" : "not a JPEG or PNG file")
        }
    }

    /// Decodes `data` straight into `pixels` (`width * height * 3` bytes) when it is an RGB JPEG of
    /// that size, and returns true; returns false, writing nothing, for anything else (decode that
    /// with `init(decoding:)`). After an error `pixels` may be partly written.
    public static func decodeJPEG(_ data: Data, into pixels: UnsafeMutableRawBufferPointer, width: Int, height: Int,
                                  maxPixels: Int = Image.defaultMaxPixels) throws -> Bool {
        guard data.starts(with: [0xff, 0xd8]), pixels.count == width * height * 3, let base = pixels.baseAddress else { return false }
        var message = [CChar](repeating: 0, count: 512)
        let status = data.withUnsafeBytes { buffer in
            pipe_jpeg_decode_into(buffer.bindMemory(to: UInt8.self).baseAddress, buffer.count, UInt64(max(maxPixels, 0)),
                                  base.assumingMemoryBound(to: UInt8.self), Int32(width), Int32(height), &message, message.count)
        }
        try Self.check(status, message)
        return status == 0
    }

    /// The image as a baseline JPEG; the same image and quality always give the same bytes.
    public func jpegData(quality: Int = 90) throws -> Data {
        try encode { pixels, output, size, error, errorSize in
            pipe_jpeg_encode(pixels, Int32(width), Int32(height), Int32(channels), Int32(quality), output, size, error, errorSize)
        }
    }

    /// The image as a PNG.
    public func pngData() throws -> Data {
        try encode { pixels, output, size, error, errorSize in
            pipe_png_encode(pixels, Int32(width), Int32(height), Int32(channels), output, size, error, errorSize)
        }
    }

    typealias Encoder = (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?,
                         UnsafeMutablePointer<CChar>?, Int) -> Int32

    /// The bytes a shim's encoder writes, or its error.
    static func encoded(_ encoder: Encoder) throws -> Data {
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = encoder(&output, &size, &message, message.count)
        guard status == 0, let output else { throw ImageError.invalid(Self.text(message)) }
        defer { pipe_image_free(output) }
        return Data(bytes: output, count: size)
    }

    private typealias Decoder = (UnsafePointer<UInt8>?, Int, UInt64, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                                 UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?,
                                 UnsafeMutablePointer<CChar>?, Int) -> Int32

    private static func decode(_ data: Data, maxPixels: Int, with decoder: Decoder) throws -> Image {
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = data.withUnsafeBytes { buffer in
            decoder(buffer.bindMemory(to: UInt8.self).baseAddress, buffer.count, UInt64(max(maxPixels, 0)), &pixels, &width, &height,
                    &channels, &message, message.count)
        }
        try Self.check(status, message)
        guard let pixels else { throw ImageError.corrupt("decoder returned no pixels") }
        defer { pipe_image_free(pixels) }
        let count = Int(width) * Int(height) * Int(channels)
        return try Image(width: Int(width), height: Int(height), channels: Int(channels),
                         pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    private func encode(_ encoder: (UnsafePointer<UInt8>?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                                    UnsafeMutablePointer<Int>?, UnsafeMutablePointer<CChar>?, Int) -> Int32) throws -> Data {
        try pixels.withUnsafeBufferPointer { buffer in
            try Self.encoded { encoder(buffer.baseAddress, $0, $1, $2, $3) }
        }
    }

    /// Throws for a shim's failure status: a size limit, or damage.
    private static func check(_ status: Int32, _ message: [CChar]) throws {
        if status == PIPE_IMAGE_TOO_LARGE { throw ImageError.tooLarge(Self.text(message)) }
        if status < 0 { throw ImageError.corrupt(Self.text(message)) }
    }

    /// A shim's NUL-terminated error message.
    static func text(_ message: [CChar]) -> String {
        String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
