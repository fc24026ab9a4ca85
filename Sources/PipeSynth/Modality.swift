import Foundation

/// The biological attribute a modality's questions ask about.
enum Attribute {
    /// How many lesions (or abnormal cells) the image shows: 1 to 4.
    case count
    /// Which half of the image the single lesion lies in.
    case laterality

    var classes: [String] {
        switch self {
        case .count: return ["1", "2", "3", "4"]
        case .laterality: return ["left", "right"]
        }
    }
}

/// One imaging modality of the synthetic benchmark: its classes and how a scene of it is drawn.
struct Modality {
    /// As in OmniMedVQA's `modality_type`.
    let name: String
    /// The `dataset` field and the folder under `Images/`.
    let dataset: String
    /// Anatomical regions (or views, or tissues), ordered so neighbours look alike.
    let anatomies: [String]
    /// Diagnoses, ordered so neighbours look alike.
    let findings: [Finding]
    let attribute: Attribute
    /// What a counted thing is called in questions ("lesion", "abnormal cell").
    let lesionNoun: String
    /// Lesion radius per grade (mild, moderate, severe), in fractions of the side.
    let gradeRadii: [Float]
    /// Draws the anatomy and returns where lesions may lie.
    let drawAnatomy: (inout Canvas, Int, inout SynthRandom) -> Region
    /// Applied after the lesions (speckle, vignette).
    let finish: (inout Canvas, inout SynthRandom) -> Void

    /// Lesion grades, mild to severe.
    static let grades = ["mild", "moderate", "severe"]
}

extension Modality {
    /// The eight modalities, in an order where neighbours look alike (grey cross-sections, grey
    /// projections, colour photographs, then microscopy).
    static let all: [Modality] = [ct, mri, xray, ultrasound, oct, fundus, dermoscopy, microscopy]

    static let standardRadii: [Float] = [0.045, 0.068, 0.095]

    static let ct = Modality(
        name: "CT", dataset: "SynthCT", anatomies: ["brain", "chest", "abdomen", "pelvis"],
        findings: [Finding("hemorrhage", .mass, .gray(0.88), accent: .gray(0.95)),
                   Finding("tumor", .ring, .gray(0.8), accent: .gray(0.3)),
                   Finding("cyst", .cyst, .gray(0.1)),
                   Finding("calcification", .dots, .gray(1.0), accent: .gray(0.9))],
        attribute: .count, lesionNoun: "lesion", gradeRadii: standardRadii,
        drawAnatomy: { canvas, anatomy, random in
            let tissue = RGB.gray(random.uniform(0.38, 0.46))
            switch anatomy {
            case 0: // brain: round head, bright skull
                canvas.ellipse(0.5, 0.5, 0.4, 0.44, .gray(0.95))
                canvas.ellipse(0.5, 0.5, 0.36, 0.4, tissue)
                canvas.ellipse(0.5, 0.5, 0.05, 0.12, .gray(0.15), opacity: 0.8)
                return Region(cx: 0.5, cy: 0.5, rx: 0.34, ry: 0.38)
            case 1: // chest: wide body, dark lungs, spine
                canvas.ellipse(0.5, 0.52, 0.46, 0.34, tissue)
                canvas.ellipse(0.3, 0.5, 0.15, 0.24, .gray(0.06))
                canvas.ellipse(0.7, 0.5, 0.15, 0.24, .gray(0.06))
                canvas.ellipse(0.5, 0.8, 0.06, 0.05, .gray(0.95))
                return Region(cx: 0.5, cy: 0.5, rx: 0.38, ry: 0.26)
            case 2: // abdomen: liver on the image left, kidneys, spine
                canvas.ellipse(0.5, 0.52, 0.44, 0.36, tissue)
                canvas.ellipse(0.34, 0.42, 0.2, 0.16, .gray(0.55))
                canvas.ellipse(0.36, 0.72, 0.06, 0.08, .gray(0.6))
                canvas.ellipse(0.64, 0.72, 0.06, 0.08, .gray(0.6))
                canvas.ellipse(0.5, 0.78, 0.06, 0.05, .gray(0.95))
                return Region(cx: 0.5, cy: 0.48, rx: 0.36, ry: 0.26)
            default: // pelvis: bony wings
                canvas.ellipse(0.5, 0.5, 0.46, 0.38, tissue)
                canvas.ring(0.3, 0.55, 0.14, 0.2, width: 0.05, .gray(0.95))
                canvas.ring(0.7, 0.55, 0.14, 0.2, width: 0.05, .gray(0.95))
                return Region(cx: 0.5, cy: 0.45, rx: 0.36, ry: 0.28)
            }
        },
        finish: { _, _ in })

    static let mri = Modality(
        name: "MRI", dataset: "SynthMRI", anatomies: ["brain", "spine", "knee"],
        findings: [Finding("glioma", .irregular, .gray(0.9), accent: .gray(0.7)),
                   Finding("abscess", .ring, .gray(0.92), accent: .gray(0.25)),
                   Finding("infarct", .mass, .gray(0.12), accent: .gray(0.2)),
                   Finding("edema", .diffuse, .gray(0.95), accent: .gray(0.85))],
        attribute: .laterality, lesionNoun: "lesion", gradeRadii: standardRadii,
        drawAnatomy: { canvas, anatomy, random in
            let tissue = RGB.gray(random.uniform(0.5, 0.58))
            switch anatomy {
            case 0: // brain: dark skull rim, grey matter, bright ventricles
                canvas.ellipse(0.5, 0.5, 0.4, 0.45, .gray(0.2))
                canvas.ellipse(0.5, 0.5, 0.37, 0.42, tissue)
                canvas.ellipse(0.44, 0.48, 0.04, 0.1, angle: 0.3, .gray(0.9))
                canvas.ellipse(0.56, 0.48, 0.04, 0.1, angle: -0.3, .gray(0.9))
                return Region(cx: 0.5, cy: 0.5, rx: 0.35, ry: 0.4)
            case 1: // spine: a column of vertebrae and discs
                canvas.ellipse(0.5, 0.5, 0.42, 0.48, tissue.scaled(0.8))
                for k in 0..<5 {
                    let y = 0.14 + Float(k) * 0.18
                    canvas.ellipse(0.5, y, 0.12, 0.07, .gray(0.7))
                    canvas.ellipse(0.5, y + 0.09, 0.1, 0.02, .gray(0.95))
                }
                return Region(cx: 0.5, cy: 0.5, rx: 0.38, ry: 0.44)
            default: // knee: femur above, tibia below, bright cartilage between
                canvas.ellipse(0.5, 0.5, 0.42, 0.48, tissue.scaled(0.8))
                canvas.ellipse(0.5, 0.28, 0.2, 0.22, .gray(0.3))
                canvas.ellipse(0.5, 0.74, 0.18, 0.2, .gray(0.3))
                canvas.line(0.32, 0.5, 0.68, 0.5, width: 0.03, .gray(0.95))
                return Region(cx: 0.5, cy: 0.5, rx: 0.38, ry: 0.44)
            }
        },
        finish: { _, _ in })

    static let xray = Modality(
        name: "X-Ray", dataset: "SynthXRay", anatomies: ["chest", "abdomen", "skull"],
        findings: [Finding("pneumonia", .diffuse, .gray(0.8), accent: .gray(0.7)),
                   Finding("nodule", .mass, .gray(0.9), accent: .gray(0.95)),
                   Finding("cavity", .ring, .gray(0.85), accent: .gray(0.05)),
                   Finding("fracture", .line, .gray(0.0))],
        attribute: .laterality, lesionNoun: "lesion", gradeRadii: standardRadii,
        drawAnatomy: { canvas, anatomy, random in
            let soft = RGB.gray(random.uniform(0.45, 0.55))
            switch anatomy {
            case 0: // chest: dark lung fields, ribs, spine and heart
                canvas.ellipse(0.5, 0.55, 0.46, 0.44, soft)
                canvas.ellipse(0.3, 0.48, 0.16, 0.3, .gray(0.15))
                canvas.ellipse(0.7, 0.48, 0.16, 0.3, .gray(0.15))
                for k in 0..<5 {
                    let y = 0.26 + Float(k) * 0.1
                    canvas.line(0.14, y + 0.03, 0.46, y, width: 0.015, .gray(0.7), opacity: 0.7)
                    canvas.line(0.54, y, 0.86, y + 0.03, width: 0.015, .gray(0.7), opacity: 0.7)
                }
                canvas.ellipse(0.56, 0.66, 0.14, 0.12, .gray(0.6))
                return Region(cx: 0.5, cy: 0.5, rx: 0.36, ry: 0.28)
            case 1: // abdomen: bowel gas, spine, pelvis rim
                canvas.ellipse(0.5, 0.5, 0.46, 0.46, soft)
                canvas.line(0.5, 0.05, 0.5, 0.95, width: 0.08, .gray(0.8))
                for k in 0..<4 { canvas.ellipse(0.3 + Float(k % 2) * 0.4, 0.3 + Float(k / 2) * 0.25, 0.07, 0.05, .gray(0.2)) }
                canvas.ring(0.5, 0.95, 0.35, 0.15, width: 0.04, .gray(0.85))
                return Region(cx: 0.5, cy: 0.45, rx: 0.38, ry: 0.32)
            default: // skull: bright vault, jaw
                canvas.ellipse(0.5, 0.45, 0.4, 0.38, .gray(0.9))
                canvas.ellipse(0.5, 0.45, 0.35, 0.33, soft.scaled(0.8))
                canvas.ring(0.5, 0.78, 0.22, 0.14, width: 0.05, .gray(0.85))
                return Region(cx: 0.5, cy: 0.45, rx: 0.32, ry: 0.3)
            }
        },
        finish: { _, _ in })

    /// The ultrasound sector: apex at the top centre, +-38 degrees.
    static func inFan(_ x: Float, _ y: Float) -> Bool {
        let dx = x - 0.5, dy = y - 0.02
        let r = (dx * dx + dy * dy).squareRoot()
        return r > 0.1 && r < 0.95 && abs(atan2f(dx, dy)) < 0.66
    }

    static let ultrasound = Modality(
        name: "Ultrasound", dataset: "SynthUltrasound", anatomies: ["liver", "kidney", "thyroid"],
        findings: [Finding("cyst", .cyst, .gray(0.03)),
                   Finding("abscess", .ring, .gray(0.75), accent: .gray(0.1)),
                   Finding("solid nodule", .mass, .gray(0.7), accent: .gray(0.6)),
                   Finding("stone", .dots, .gray(1.0), accent: .gray(0.95))],
        attribute: .count, lesionNoun: "lesion", gradeRadii: standardRadii,
        drawAnatomy: { canvas, anatomy, random in
            let echo = RGB.gray(random.uniform(0.42, 0.5))
            canvas.paint(echo, bounds: (0, 0, 1, 1)) { x, y in inFan(x, y) ? 1 : 0 }
            switch anatomy {
            case 0: // liver: large homogeneous organ with dark vessels
                canvas.ellipse(0.5, 0.55, 0.3, 0.28, echo.scaled(1.15))
                for k in 0..<3 { canvas.ellipse(0.38 + Float(k) * 0.12, 0.5 + Float(k % 2) * 0.1, 0.025, 0.025, .gray(0.05)) }
                return Region(cx: 0.5, cy: 0.56, rx: 0.28, ry: 0.26)
            case 1: // kidney: bean with bright rim and dark pyramids
                canvas.ellipse(0.5, 0.56, 0.3, 0.18, angle: 0.2, .gray(0.8))
                canvas.ellipse(0.5, 0.56, 0.26, 0.14, angle: 0.2, echo.scaled(0.7))
                canvas.ellipse(0.5, 0.56, 0.12, 0.05, angle: 0.2, .gray(0.85))
                return Region(cx: 0.5, cy: 0.56, rx: 0.26, ry: 0.2)
            default: // thyroid: two lobes around a dark trachea ring
                canvas.ellipse(0.34, 0.52, 0.13, 0.18, echo.scaled(1.3))
                canvas.ellipse(0.66, 0.52, 0.13, 0.18, echo.scaled(1.3))
                canvas.ring(0.5, 0.56, 0.07, 0.07, width: 0.03, .gray(0.9))
                return Region(cx: 0.5, cy: 0.55, rx: 0.3, ry: 0.2)
            }
        },
        finish: { canvas, random in canvas.speckle(amount: 0.28, random: &random) { x, y in inFan(x, y) } })

    static let oct = Modality(
        name: "OCT", dataset: "SynthOCT", anatomies: ["macula", "optic nerve head", "peripheral retina"],
        findings: [Finding("macular edema", .cyst, .gray(0.05)),
                   Finding("drusen", .mass, .gray(0.95), accent: .gray(0.85)),
                   Finding("epiretinal membrane", .line, .gray(1.0)),
                   Finding("subretinal fluid", .diffuse, .gray(0.02), accent: .gray(0.1))],
        attribute: .count, lesionNoun: "lesion", gradeRadii: [0.04, 0.058, 0.078],
        drawAnatomy: { canvas, anatomy, random in
            // Retinal layers: bright nerve fibre layer on top, grey layers, bright pigment epithelium below.
            let dip: (Float) -> Float
            switch anatomy {
            case 0: dip = { x in 0.1 * expf(-powf((x - 0.5) / 0.1, 2)) }
            case 1: dip = { x in 0.22 * expf(-powf((x - 0.5) / 0.07, 2)) }
            default: dip = { _ in 0 }
            }
            let tilt = random.uniform(-0.06, 0.06)
            let layers: [(Float, Float, Float)] = [(0.32, 0.38, 0.85), (0.38, 0.5, 0.45), (0.5, 0.58, 0.3), (0.58, 0.64, 0.55), (0.64, 0.7, 0.95)]
            for (top, bottom, level) in layers {
                canvas.paint(.gray(level), bounds: (0, 0, 1, 1)) { x, y in
                    let shift = tilt * (x - 0.5) + (top < 0.6 ? dip(x) : 0)
                    return y >= top + shift && y < bottom + shift ? 1 : 0
                }
            }
            return Region(cx: 0.5, cy: 0.52, rx: 0.42, ry: 0.12)
        },
        finish: { canvas, random in canvas.speckle(amount: 0.2, random: &random) })

    static let fundus = Modality(
        name: "Fundus Photography", dataset: "SynthFundus", anatomies: ["optic disc", "macula", "peripheral retina"],
        findings: [Finding("retinal hemorrhage", .mass, RGB(0.45, 0.05, 0.03), accent: RGB(0.35, 0.02, 0.02)),
                   Finding("hard exudates", .dots, RGB(0.98, 0.92, 0.45), accent: RGB(0.95, 0.85, 0.4)),
                   Finding("chorioretinal scar", .ring, RGB(0.35, 0.2, 0.1), accent: RGB(0.98, 0.93, 0.8)),
                   Finding("cotton wool spot", .diffuse, RGB(0.97, 0.95, 0.9), accent: RGB(0.9, 0.85, 0.8))],
        attribute: .count, lesionNoun: "lesion", gradeRadii: standardRadii,
        drawAnatomy: { canvas, anatomy, random in
            let retina = RGB(random.uniform(0.78, 0.9), random.uniform(0.35, 0.45), random.uniform(0.12, 0.2))
            canvas.ellipse(0.5, 0.5, 0.46, 0.46, retina)
            // The view decides where the optic disc sits: centred, at the side, or out of view.
            let disc: (Float, Float)? = anatomy == 0 ? (0.5, 0.5) : anatomy == 1 ? (0.82, 0.5) : nil
            let vesselColor = RGB(0.55, 0.08, 0.05)
            let origin = disc ?? (1.1, 0.5)
            for k in 0..<4 {
                let t = Float(k) * .pi / 2 + .pi / 4 + random.uniform(-0.2, 0.2)
                canvas.line(origin.0, origin.1, origin.0 + 0.5 * cosf(t) - (disc == nil ? 0.4 : 0), origin.1 + 0.5 * sinf(t),
                            width: 0.02, vesselColor, opacity: 0.9)
            }
            if let disc { canvas.ellipse(disc.0, disc.1, 0.08, 0.09, RGB(0.98, 0.9, 0.6)) }
            if anatomy == 1 { canvas.blob(0.45, 0.5, sigma: 0.07, RGB(0.5, 0.18, 0.06), opacity: 0.8) }
            return Region(cx: anatomy == 1 ? 0.42 : 0.5, cy: 0.5, rx: anatomy == 1 ? 0.3 : 0.38, ry: 0.36)
        },
        finish: { canvas, _ in
            // Dark outside the fundus circle.
            canvas.paint(.gray(0), bounds: (0, 0, 1, 1)) { x, y in
                let d = ((x - 0.5) * (x - 0.5) + (y - 0.5) * (y - 0.5)).squareRoot()
                return d > 0.47 ? 1 : 0
            }
        })

    static let dermoscopy = Modality(
        name: "Dermoscopy", dataset: "SynthDermoscopy", anatomies: ["trunk", "scalp", "palm"],
        findings: [Finding("melanoma", .irregular, RGB(0.2, 0.1, 0.08), accent: RGB(0.35, 0.3, 0.45)),
                   Finding("nevus", .mass, RGB(0.45, 0.28, 0.16), accent: RGB(0.4, 0.24, 0.14)),
                   Finding("seborrheic keratosis", .dots, RGB(0.55, 0.4, 0.25), accent: RGB(0.85, 0.78, 0.6)),
                   Finding("basal cell carcinoma", .ring, RGB(0.9, 0.55, 0.55), accent: RGB(0.95, 0.82, 0.8))],
        attribute: .count, lesionNoun: "lesion", gradeRadii: standardRadii,
        drawAnatomy: { canvas, anatomy, random in
            let skin = RGB(random.uniform(0.75, 0.92), random.uniform(0.55, 0.7), random.uniform(0.45, 0.58))
            canvas.ellipse(0.5, 0.5, 0.47, 0.47, skin)
            switch anatomy {
            case 1: // scalp: dark hairs
                for _ in 0..<7 {
                    let (x, y, t) = (random.uniform(0.2, 0.8), random.uniform(0.2, 0.8), random.uniform(0, .pi))
                    canvas.line(x, y, x + 0.3 * cosf(t), y + 0.3 * sinf(t), width: 0.012, RGB(0.1, 0.07, 0.05), opacity: 0.9)
                }
            case 2: // palm: parallel ridges
                for k in 0..<9 {
                    let y = 0.12 + Float(k) * 0.095
                    canvas.line(0.05, y, 0.95, y + 0.04, width: 0.012, skin.scaled(0.8), opacity: 0.8)
                }
            default: // trunk: plain skin
                break
            }
            return Region(cx: 0.5, cy: 0.5, rx: 0.38, ry: 0.38)
        },
        finish: { canvas, _ in
            canvas.paint(.gray(0.02), bounds: (0, 0, 1, 1)) { x, y in
                let d = ((x - 0.5) * (x - 0.5) + (y - 0.5) * (y - 0.5)).squareRoot()
                return d > 0.48 ? 1 : 0
            }
        })

    static let microscopy = Modality(
        name: "Microscopy Images", dataset: "SynthMicroscopy", anatomies: ["blood smear", "lymph node", "epithelium"],
        findings: [Finding("parasitized cell", .ring, RGB(0.45, 0.15, 0.5), accent: RGB(0.9, 0.55, 0.6)),
                   Finding("malignant cell", .irregular, RGB(0.25, 0.05, 0.35), accent: RGB(0.35, 0.1, 0.45)),
                   Finding("apoptotic cell", .dots, RGB(0.3, 0.05, 0.3), accent: RGB(0.5, 0.2, 0.5)),
                   Finding("necrotic cell", .diffuse, RGB(0.95, 0.75, 0.85), accent: RGB(0.85, 0.6, 0.75))],
        attribute: .count, lesionNoun: "abnormal cell", gradeRadii: [0.05, 0.07, 0.092],
        drawAnatomy: { canvas, anatomy, random in
            switch anatomy {
            case 0: // blood smear: pale background, scattered red cells
                canvas.paint(RGB(0.95, 0.9, 0.9), bounds: (0, 0, 1, 1)) { _, _ in 1 }
                for _ in 0..<18 {
                    canvas.ring(random.uniform(0.05, 0.95), random.uniform(0.05, 0.95), 0.045, 0.045, width: 0.03, RGB(0.85, 0.45, 0.5))
                }
            case 1: // lymph node: dense small purple nuclei on pink
                canvas.paint(RGB(0.85, 0.6, 0.75), bounds: (0, 0, 1, 1)) { _, _ in 1 }
                for _ in 0..<45 {
                    canvas.ellipse(random.uniform(0, 1), random.uniform(0, 1), 0.022, 0.022, RGB(0.4, 0.25, 0.6), opacity: 0.9)
                }
            default: // epithelium: rows of cells with nuclei along a band
                canvas.paint(RGB(0.92, 0.7, 0.8), bounds: (0, 0, 1, 1)) { _, _ in 1 }
                for row in 0..<3 {
                    for k in 0..<8 {
                        let (x, y) = (0.06 + Float(k) * 0.125, 0.2 + Float(row) * 0.3)
                        canvas.ring(x, y, 0.055, 0.07, width: 0.012, RGB(0.7, 0.4, 0.6))
                        canvas.ellipse(x, y + 0.03, 0.02, 0.02, RGB(0.45, 0.3, 0.6))
                    }
                }
            }
            return Region(cx: 0.5, cy: 0.5, rx: 0.42, ry: 0.42)
        },
        finish: { _, _ in })
}
