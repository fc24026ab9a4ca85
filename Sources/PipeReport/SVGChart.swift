import Foundation

/// A named set of (x, y) points drawn as one line of a `LineChart`.
public struct Series: Sendable, Equatable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    /// Draw the line dashed (e.g. the adversarial half of a clean/adversarial pair).
    public var dashed: Bool

    public init(_ name: String, _ points: [(x: Double, y: Double)], dashed: Bool = false) {
        self.name = name
        self.points = points
        self.dashed = dashed
    }

    public static func == (a: Series, b: Series) -> Bool {
        a.name == b.name && a.dashed == b.dashed && a.points.map(\.x) == b.points.map(\.x) && a.points.map(\.y) == b.points.map(\.y)
    }
}

/// Inline SVG charts: well-formed XML (so the report parses as XHTML), every data point an element
/// with its values in `data-` attributes and a `<title>` tooltip.
enum SVG {
    static let width = 640.0, height = 340.0
    static let margin = (left: 64.0, right: 196.0, top: 36.0, bottom: 52.0)
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ value: Double) -> String { String(format: "%.4g", value) }
    static func coordinate(_ value: Double) -> String { String(format: "%.1f", value) }

    /// About `count` round tick values covering `low...high`.
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var value = ceil(low / step - 1e-9) * step
        while value <= high + step * 1e-9 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return values
    }

    /// The opening of a chart: the svg element, its title and its axis labels.
    static func open(kind: String, title: String, xLabel: String, yLabel: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="\(escape(kind))" data-title="\(escape(title))" \
        viewBox="0 0 \(Int(width)) \(Int(height))" width="\(Int(width))" height="\(Int(height))" role="img">
        <title>\(escape(title))</title>
        <text x="\(coordinate(width / 2 - margin.right / 2 + margin.left / 2))" y="20" text-anchor="middle" font-weight="bold" font-size="14">\(escape(title))</text>
        <text x="\(coordinate((margin.left + width - margin.right) / 2))" y="\(coordinate(height - 10))" text-anchor="middle" font-size="12">\(escape(xLabel))</text>
        <text transform="translate(16 \(coordinate((margin.top + height - margin.bottom) / 2))) rotate(-90)" text-anchor="middle" font-size="12">\(escape(yLabel))</text>

        """
    }

    /// A legend entry at row `row` of the right-hand column.
    static func legend(_ name: String, color: String, row: Int, dashed: Bool = false, swatch: Bool = false) -> String {
        let x = width - margin.right + 14, y = margin.top + 8 + Double(row) * 18
        let mark = swatch
            ? "<rect x=\"\(coordinate(x))\" y=\"\(coordinate(y - 6))\" width=\"18\" height=\"10\" fill=\"\(color)\"/>"
            : "<line x1=\"\(coordinate(x))\" y1=\"\(coordinate(y))\" x2=\"\(coordinate(x + 18))\" y2=\"\(coordinate(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
        return "<g class=\"legend\">\(mark)<text x=\"\(coordinate(x + 24))\" y=\"\(coordinate(y + 4))\" font-size=\"10\">\(escape(name))</text></g>\n"
    }
}

/// A line chart with markers: one line per series, numeric axes with ticks, a legend.
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Fixed y range (e.g. 0...1 for accuracies); nil: fitted to the data.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series], yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yRange = yRange
    }

    public var svg: String {
        let points = series.flatMap(\.points)
        let xs = points.map(\.x), ys = points.map(\.y)
        var xLow = xs.min() ?? 0, xHigh = xs.max() ?? 1
        if xHigh <= xLow { xHigh = xLow + 1 }
        var yLow = yRange?.lowerBound ?? (ys.min() ?? 0), yHigh = yRange?.upperBound ?? (ys.max() ?? 1)
        if yRange == nil {
            let pad = max((yHigh - yLow) * 0.05, 1e-9)
            yLow -= pad
            yHigh += pad
        }
        if yHigh <= yLow { yHigh = yLow + 1 }
        let xTicks = SVG.ticks(xLow, xHigh), yTicks = SVG.ticks(yLow, yHigh)
        xLow = min(xLow, xTicks.first ?? xLow)
        xHigh = max(xHigh, xTicks.last ?? xHigh)
        let plotWidth = SVG.width - SVG.margin.left - SVG.margin.right, plotHeight = SVG.height - SVG.margin.top - SVG.margin.bottom
        func px(_ x: Double) -> Double { SVG.margin.left + (x - xLow) / (xHigh - xLow) * plotWidth }
        func py(_ y: Double) -> Double { SVG.margin.top + (1 - (y - yLow) / (yHigh - yLow)) * plotHeight }
        var out = SVG.open(kind: "line", title: title, xLabel: xLabel, yLabel: yLabel)
        out += Axes.draw(xTicks: xTicks.map { (px($0), SVG.number($0)) }, yTicks: yTicks.filter { $0 >= yLow && $0 <= yHigh }.map { (py($0), SVG.number($0)) })
        for (index, s) in series.enumerated() {
            let color = SVG.palette[index % SVG.palette.count]
            out += "<g class=\"series\" data-series=\"\(SVG.escape(s.name))\">\n"
            if s.points.count > 1 {
                let path = s.points.map { "\(SVG.coordinate(px($0.x))),\(SVG.coordinate(py($0.y)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(s.dashed ? " stroke-dasharray=\"5 3\"" : "") points=\"\(path)\"/>\n"
            }
            let radius = s.points.count > 60 ? 1.2 : 2.8
            for p in s.points {
                out += "<circle class=\"point\" cx=\"\(SVG.coordinate(px(p.x)))\" cy=\"\(SVG.coordinate(py(p.y)))\" r=\"\(radius)\" fill=\"\(color)\" "
                    + "data-x=\"\(SVG.number(p.x))\" data-y=\"\(SVG.number(p.y))\"><title>\(SVG.escape(s.name)): \(SVG.number(p.x)), \(SVG.number(p.y))</title></circle>\n"
            }
            out += "</g>\n" + SVG.legend(s.name, color: color, row: index, dashed: s.dashed)
        }
        return out + "</svg>\n"
    }
}

/// The axes' frame, tick marks, tick labels and grid lines.
enum Axes {
    static func draw(xTicks: [(Double, String)], yTicks: [(Double, String)], rotateX: Bool = false) -> String {
        let left = SVG.margin.left, right = SVG.width - SVG.margin.right
        let top = SVG.margin.top, bottom = SVG.height - SVG.margin.bottom
        var out = "<g class=\"axes\" font-size=\"10\">\n"
        out += "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\" stroke=\"#333\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"#333\"/>\n"
        for (x, label) in xTicks {
            let cx = SVG.coordinate(x)
            out += "<line x1=\"\(cx)\" y1=\"\(bottom)\" x2=\"\(cx)\" y2=\"\(bottom + 4)\" stroke=\"#333\"/>"
            out += rotateX
                ? "<text transform=\"translate(\(cx) \(bottom + 12)) rotate(25)\" font-size=\"10\">\(SVG.escape(label))</text>\n"
                : "<text x=\"\(cx)\" y=\"\(bottom + 16)\" text-anchor=\"middle\">\(SVG.escape(label))</text>\n"
        }
        for (y, label) in yTicks {
            let cy = SVG.coordinate(y)
            out += "<line x1=\"\(left)\" y1=\"\(cy)\" x2=\"\(right)\" y2=\"\(cy)\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(SVG.coordinate(y + 3))\" text-anchor=\"end\">\(SVG.escape(label))</text>\n"
        }
        return out + "</g>\n"
    }
}
