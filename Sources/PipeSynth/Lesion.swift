import Foundation

/// How a kind of finding looks; each modality maps its diagnoses onto these.
enum LesionStyle {
    /// A solid, slightly elongated blob.
    case mass
    /// A bright rim around a darker centre (abscess, ring-enhancing tumour).
    case ring
    /// A sharp-edged dark round (fluid).
    case cyst
    /// A soft, ill-defined cloud.
    case diffuse
    /// A cluster of small dots.
    case dots
    /// A thin straight streak (fracture, membrane).
    case line
    /// A lobulated, irregular outline.
    case irregular
}

/// One diagnosis of a modality and its look.
struct Finding {
    let name: String
    let style: LesionStyle
    /// The lesion's main colour.
    let color: RGB
    /// A second colour: a ring's centre, a mass's core.
    let accent: RGB

    init(_ name: String, _ style: LesionStyle, _ color: RGB, accent: RGB? = nil) {
        self.name = name
        self.style = style
        self.color = color
        self.accent = accent ?? color
    }
}

/// An elliptical area, in fractions of the image side, inside which lesion centres lie.
struct Region {
    var cx: Float, cy: Float, rx: Float, ry: Float

    /// Whether (x, y) lies inside.
    func contains(_ x: Float, _ y: Float) -> Bool {
        let dx = (x - cx) / rx, dy = (y - cy) / ry
        return dx * dx + dy * dy <= 1
    }
}

extension Canvas {
    /// Draws one lesion of `finding` centred at (x, y) with size `r` (fractions) and `opacity`.
    mutating func lesion(_ finding: Finding, x: Float, y: Float, r: Float, opacity: Float, random: inout SynthRandom) {
        let angle = random.uniform(0, .pi)
        switch finding.style {
        case .mass:
            let a = random.uniform(0.85, 1.15)
            ellipse(x, y, r * a, r / a, angle: angle, finding.color, opacity: opacity)
            ellipse(x, y, r * 0.5, r * 0.5, finding.accent, opacity: opacity * 0.5)
        case .ring:
            ellipse(x, y, r, r, finding.accent, opacity: opacity)
            ring(x, y, r * 0.82, r * 0.82, width: max(r * 0.36, edge * 1.2), finding.color, opacity: opacity)
        case .cyst:
            ellipse(x, y, r, r * random.uniform(0.85, 1), angle: angle, finding.color, opacity: opacity)
        case .diffuse:
            blob(x, y, sigma: r * 0.6, finding.color, opacity: opacity)
            blob(x + r * 0.3 * cosf(angle), y + r * 0.3 * sinf(angle), sigma: r * 0.45, finding.accent, opacity: opacity * 0.8)
        case .dots:
            let count = 5 + random.int(3)
            for k in 0..<count {
                let t = Float(k) / Float(count) * 2 * .pi + angle
                let d = r * (k == 0 ? 0 : random.uniform(0.45, 0.8))
                ellipse(x + d * cosf(t), y + d * sinf(t), max(r * 0.2, edge * 0.7), max(r * 0.2, edge * 0.7),
                        k % 2 == 0 ? finding.color : finding.accent, opacity: opacity)
            }
        case .line:
            let (dx, dy) = (r * cosf(angle), r * sinf(angle))
            line(x - dx, y - dy, x + dx, y + dy, width: max(r * 0.28, edge * 1.2), finding.color, opacity: opacity)
        case .irregular:
            for k in 0..<4 {
                let t = Float(k) * .pi / 2 + angle + random.uniform(-0.4, 0.4)
                let d = r * random.uniform(0.3, 0.5)
                ellipse(x + d * cosf(t), y + d * sinf(t), r * 0.58, r * random.uniform(0.4, 0.6), angle: t,
                        k == 0 ? finding.accent : finding.color, opacity: opacity)
            }
        }
    }
}
