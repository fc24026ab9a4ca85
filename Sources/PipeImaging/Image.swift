import ImageCodecShims

/// An 8-bit image: `channels` samples per pixel (1 gray, 3 RGB), rows top to bottom.
public struct Image: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// `height * width * channels` samples, row-major.
    public var pixels: [UInt8]

    /// An image of the given size; `pixels` must hold `width * height * channels` samples.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels else {
            throw ImageError.invalid("\(width)x\(height)x\(channels) with \(pixels.count) samples")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int, channels: Int) {
        precondition(width > 0 && height > 0 && (channels == 1 || channels == 3), "invalid image shape")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = [UInt8](repeating: 0, count: width * height * channels)
    }

    /// The sample at (x, y) of channel `c`.
    public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// The same image with 3 channels (a gray image's value repeated).
    public var rgb: Image {
        guard channels == 1 else { return self }
        var out = Image(width: width, height: height, channels: 3)
        for i in 0..<(width * height) {
            let v = pixels[i]
            out.pixels[3 * i] = v
            out.pixels[3 * i + 1] = v
            out.pixels[3 * i + 2] = v
        }
        return out
    }

    /// Resizes by area averaging: each output pixel is the mean of the input area it covers, with
    /// fractional pixels weighted by their overlap (like OpenCV's INTER_AREA). Upscaling replicates.
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "invalid size")
        if newWidth == width && newHeight == height { return self }
        let xSpans = Self.spans(from: width, to: newWidth)
        let ySpans = Self.spans(from: height, to: newHeight)
        var out = Image(width: newWidth, height: newHeight, channels: channels)
        var sums = [Double](repeating: 0, count: channels)
        for (oy, ySpan) in ySpans.enumerated() {
            for (ox, xSpan) in xSpans.enumerated() {
                for c in 0..<channels { sums[c] = 0 }
                var total = 0.0
                for (iy, wy) in ySpan {
                    for (ix, wx) in xSpan {
                        let weight = wy * wx
                        total += weight
                        let base = (iy * width + ix) * channels
                        for c in 0..<channels { sums[c] += weight * Double(pixels[base + c]) }
                    }
                }
                let base = (oy * newWidth + ox) * channels
                for c in 0..<channels { out.pixels[base + c] = UInt8(min(255, max(0, (sums[c] / total).rounded()))) }
            }
        }
        return out
    }

    /// For each output index, the input indices it covers with their overlap weights.
    static func spans(from input: Int, to output: Int) -> [[(Int, Double)]] {
        let scale = Double(input) / Double(output)
        return (0..<output).map { o in
            let start = Double(o) * scale, end = Double(o + 1) * scale
            var span: [(Int, Double)] = []
            var i = Int(start.rounded(.down))
            while Double(i) < end && i < input {
                let overlap = min(end, Double(i + 1)) - max(start, Double(i))
                if overlap > 1e-12 { span.append((i, overlap)) }
                i += 1
            }
            return span
        }
    }
}

/// Why an image could not be read or written; the message names the problem.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    case corrupt(String)
    case unsupported(String)
    case invalid(String)
    /// The header declares more than a size limit allows (pixels, chunk bytes, scans); the message names the limit.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .corrupt(let message): return message
        case .tooLarge(let message): return message
        case .unsupported(let message): return message
        case .invalid(let message): return "invalid image: \(message)"
        }
    }
}
