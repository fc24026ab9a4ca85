import Foundation
import PipeImaging

/// A floating-point RGB drawing surface in [0, 1], with the few primitives the modality renderers
/// compose: soft-edged ellipses and rings, Gaussian blobs, lines, noise, speckle, blur and contrast.
/// Coordinates are fractions of the side (0...1), so a scene looks the same at any size.
struct Canvas {
    let size: Int
    /// `size * size * 3` samples, row-major RGB.
    var pixels: [Float]

    init(size: Int, fill color: RGB) {
        self.size = size
        pixels = [Float](repeating: 0, count: size * size * 3)
        for i in 0..<(size * size) {
            pixels[3 * i] = color.r
            pixels[3 * i + 1] = color.g
            pixels[3 * i + 2] = color.b
        }
    }

    /// Blends `color` into every pixel with weight `coverage(x, y)` (x, y: pixel centres as fractions),
    /// visiting only the pixels inside `bounds` (fractions: minX, minY, maxX, maxY).
    mutating func paint(_ color: RGB, bounds: (Float, Float, Float, Float), opacity: Float = 1,
                        coverage: (Float, Float) -> Float) {
        let side = Float(size)
        let x0 = max(0, Int((bounds.0 * side).rounded(.down))), x1 = min(size - 1, Int((bounds.2 * side).rounded(.up)))
        let y0 = max(0, Int((bounds.1 * side).rounded(.down))), y1 = min(size - 1, Int((bounds.3 * side).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            let fy = (Float(y) + 0.5) / side
            for x in x0...x1 {
                let w = coverage((Float(x) + 0.5) / side, fy) * opacity
                guard w > 0 else { continue }
                let i = 3 * (y * size + x)
                pixels[i] += (color.r - pixels[i]) * w
                pixels[i + 1] += (color.g - pixels[i + 1]) * w
                pixels[i + 2] += (color.b - pixels[i + 2]) * w
            }
        }
    }

    /// The width, in fractions, of the anti-aliased edge: one pixel.
    var edge: Float { 1 / Float(size) }

    /// A filled ellipse centred at (cx, cy) with radii (rx, ry), rotated by `angle` radians.
    mutating func ellipse(_ cx: Float, _ cy: Float, _ rx: Float, _ ry: Float, angle: Float = 0,
                          _ color: RGB, opacity: Float = 1) {
        let (c, s) = (cosf(angle), sinf(angle))
        let r = max(rx, ry) + edge
        let edge = self.edge
        paint(color, bounds: (cx - r, cy - r, cx + r, cy + r), opacity: opacity) { x, y in
            let dx = x - cx, dy = y - cy
            let u = (dx * c + dy * s) / rx, v = (-dx * s + dy * c) / ry
            let d = (u * u + v * v).squareRoot()
            // Signed distance to the rim, approximately, in fractions of the side.
            return min(1, max(0, (1 - d) * min(rx, ry) / edge + 0.5))
        }
    }

    /// An elliptical ring of thickness `width` (fractions) on the rim of (rx, ry).
    mutating func ring(_ cx: Float, _ cy: Float, _ rx: Float, _ ry: Float, width: Float, _ color: RGB, opacity: Float = 1) {
        let r = max(rx, ry) + width + edge
        let edge = self.edge
        paint(color, bounds: (cx - r, cy - r, cx + r, cy + r), opacity: opacity) { x, y in
            let dx = (x - cx) / rx, dy = (y - cy) / ry
            let d = abs((dx * dx + dy * dy).squareRoot() - 1) * min(rx, ry)
            return min(1, max(0, (width / 2 - d) / edge + 0.5))
        }
    }

    /// A soft Gaussian blob with standard deviation `sigma` (fractions); `opacity` at its centre.
    mutating func blob(_ cx: Float, _ cy: Float, sigma: Float, _ color: RGB, opacity: Float = 1) {
        let r = 3 * sigma
        let k = 1 / (2 * sigma * sigma)
        paint(color, bounds: (cx - r, cy - r, cx + r, cy + r), opacity: opacity) { x, y in
            let dx = x - cx, dy = y - cy
            return expf(-(dx * dx + dy * dy) * k)
        }
    }

    /// A straight line segment of thickness `width` (fractions).
    mutating func line(_ ax: Float, _ ay: Float, _ bx: Float, _ by: Float, width: Float, _ color: RGB, opacity: Float = 1) {
        let pad = width + edge
        let (dx, dy) = (bx - ax, by - ay)
        let length2 = max(dx * dx + dy * dy, 1e-12)
        let edge = self.edge
        paint(color, bounds: (min(ax, bx) - pad, min(ay, by) - pad, max(ax, bx) + pad, max(ay, by) + pad), opacity: opacity) { x, y in
            let t = min(1, max(0, ((x - ax) * dx + (y - ay) * dy) / length2))
            let (px, py) = (ax + t * dx - x, ay + t * dy - y)
            let d = (px * px + py * py).squareRoot()
            return min(1, max(0, (width / 2 - d) / edge + 0.5))
        }
    }

    /// Multiplies every pixel for which `mask(x, y)` is true by `1 + amount * n`, n standard normal
    /// (ultrasound speckle, film grain).
    mutating func speckle(amount: Float, random: inout SynthRandom, mask: (Float, Float) -> Bool = { _, _ in true }) {
        let side = Float(size)
        for y in 0..<size {
            for x in 0..<size where mask((Float(x) + 0.5) / side, (Float(y) + 0.5) / side) {
                let factor = max(0, 1 + amount * random.normal())
                let i = 3 * (y * size + x)
                pixels[i] *= factor
                pixels[i + 1] *= factor
                pixels[i + 2] *= factor
            }
        }
    }

    /// Adds independent Gaussian noise of standard deviation `sigma` to every sample.
    mutating func noise(sigma: Float, random: inout SynthRandom) {
        guard sigma > 0 else { return }
        for i in pixels.indices { pixels[i] += sigma * random.normal() }
    }

    /// A box blur of radius `radius` pixels (fractional radii blend the two nearest integer blurs).
    mutating func blur(radius: Float) {
        guard radius > 0 else { return }
        let lower = Int(radius.rounded(.down))
        let fraction = radius - Float(lower)
        let a = lower > 0 ? boxBlurred(lower) : pixels
        guard fraction > 0 else { pixels = a; return }
        let b = boxBlurred(lower + 1)
        for i in pixels.indices { pixels[i] = a[i] + (b[i] - a[i]) * fraction }
    }

    /// Separable box blur with clamped edges.
    private func boxBlurred(_ radius: Int) -> [Float] {
        var pass = pixels
        var out = pixels
        let n = size
        let norm = 1 / Float(2 * radius + 1)
        for horizontal in [true, false] {
            for line in 0..<n {
                for c in 0..<3 {
                    func at(_ k: Int) -> Float {
                        let k = min(n - 1, max(0, k))
                        return pass[3 * (horizontal ? line * n + k : k * n + line) + c]
                    }
                    var sum: Float = 0
                    for k in -radius...radius { sum += at(k) }
                    for k in 0..<n {
                        out[3 * (horizontal ? line * n + k : k * n + line) + c] = sum * norm
                        sum += at(k + radius + 1) - at(k - radius)
                    }
                }
            }
            pass = out
        }
        return out
    }

    /// Scales contrast about mid-grey: 1 leaves the image, 0 makes it flat grey.
    mutating func contrast(_ factor: Float) {
        guard factor != 1 else { return }
        for i in pixels.indices { pixels[i] = 0.5 + (pixels[i] - 0.5) * factor }
    }

    /// The canvas as an 8-bit RGB image, clamped.
    var image: Image {
        var out = Image(width: size, height: size, channels: 3)
        for i in pixels.indices { out.pixels[i] = UInt8(min(255, max(0, pixels[i] * 255)).rounded()) }
        return out
    }
}

/// A colour in [0, 1].
struct RGB: Equatable {
    var r: Float, g: Float, b: Float
    init(_ r: Float, _ g: Float, _ b: Float) { (self.r, self.g, self.b) = (r, g, b) }
    /// A grey of level `v`.
    static func gray(_ v: Float) -> RGB { RGB(v, v, v) }
    /// This colour moved towards `other` by `t`.
    func mixed(_ other: RGB, _ t: Float) -> RGB { RGB(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t) }
    /// Each channel scaled by `k`.
    func scaled(_ k: Float) -> RGB { RGB(r * k, g * k, b * k) }
}
