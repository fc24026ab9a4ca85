import Foundation

/// Grouped bars: one group per category, one bar per series in each group, a legend.
public struct BarChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var categories: [String]
    /// Each series' name and its value per category (nil: no bar).
    public var series: [(name: String, values: [Double?])]
    public var yRange: ClosedRange<Double>

    public init(title: String, xLabel: String, yLabel: String, categories: [String], series: [(name: String, values: [Double?])],
                yRange: ClosedRange<Double> = 0...1) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
        self.yRange = yRange
    }

    public var svg: String {
        let plotWidth = SVG.width - SVG.margin.left - SVG.margin.right, plotHeight = SVG.height - SVG.margin.top - SVG.margin.bottom
        let low = yRange.lowerBound, high = max(yRange.upperBound, low + 1e-9)
        func py(_ y: Double) -> Double { SVG.margin.top + (1 - (min(max(y, low), high) - low) / (high - low)) * plotHeight }
        let group = plotWidth / Double(max(1, categories.count))
        let bar = group * 0.8 / Double(max(1, series.count))
        var out = SVG.open(kind: "bar", title: title, xLabel: xLabel, yLabel: yLabel)
        out += Axes.draw(xTicks: categories.enumerated().map { (SVG.margin.left + (Double($0.offset) + 0.5) * group, $0.element) },
                         yTicks: SVG.ticks(low, high).map { (py($0), SVG.number($0)) }, rotateX: categories.count > 5)
        for (index, s) in series.enumerated() {
            let color = SVG.palette[index % SVG.palette.count]
            out += "<g class=\"series\" data-series=\"\(SVG.escape(s.name))\">\n"
            for (c, value) in s.values.enumerated() where c < categories.count {
                guard let value else { continue }
                let x = SVG.margin.left + Double(c) * group + group * 0.1 + Double(index) * bar
                let top = py(value), bottom = py(low)
                out += "<rect class=\"bar\" x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(top))\" width=\"\(SVG.coordinate(max(bar - 1, 1)))\" "
                    + "height=\"\(SVG.coordinate(max(bottom - top, 0)))\" fill=\"\(color)\" data-x=\"\(SVG.escape(categories[c]))\" "
                    + "data-y=\"\(SVG.number(value))\"><title>\(SVG.escape(s.name)), \(SVG.escape(categories[c])): \(SVG.number(value))</title></rect>\n"
            }
            out += "</g>\n" + SVG.legend(s.name, color: color, row: index, swatch: true)
        }
        return out + "</svg>\n"
    }
}

/// A heatmap of values in [0, 1]: rows x columns, each cell coloured and labelled with its value.
public struct Heatmap: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var rows: [String]
    public var columns: [String]
    /// values[row][column]; nil: no data (a grey cell).
    public var values: [[Double?]]

    public init(title: String, xLabel: String, yLabel: String, rows: [String], columns: [String], values: [[Double?]]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// White (0) to dark blue (1).
    static func color(_ value: Double) -> String {
        let t = min(max(value, 0), 1)
        let r = Int(247 - t * (247 - 8)), g = Int(251 - t * (251 - 48)), b = Int(255 - t * (255 - 107))
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    public var svg: String {
        let left = 150.0, top = SVG.margin.top + 4, right = SVG.width - 90, bottom = SVG.height - 60
        let cellWidth = (right - left) / Double(max(1, columns.count)), cellHeight = (bottom - top) / Double(max(1, rows.count))
        var out = SVG.open(kind: "heatmap", title: title, xLabel: xLabel, yLabel: yLabel)
        for (r, row) in rows.enumerated() {
            out += "<text x=\"\(SVG.coordinate(left - 6))\" y=\"\(SVG.coordinate(top + (Double(r) + 0.5) * cellHeight + 4))\" text-anchor=\"end\" font-size=\"10\">\(SVG.escape(row))</text>\n"
            for (c, column) in columns.enumerated() {
                let x = left + Double(c) * cellWidth, y = top + Double(r) * cellHeight
                let value = r < values.count && c < values[r].count ? values[r][c] : nil
                guard let value else {
                    out += "<rect x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(y))\" width=\"\(SVG.coordinate(cellWidth))\" height=\"\(SVG.coordinate(cellHeight))\" fill=\"#eee\" stroke=\"#fff\"/>\n"
                    continue
                }
                out += "<rect class=\"cell\" x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(y))\" width=\"\(SVG.coordinate(cellWidth))\" "
                    + "height=\"\(SVG.coordinate(cellHeight))\" fill=\"\(Self.color(value))\" stroke=\"#fff\" data-row=\"\(SVG.escape(row))\" "
                    + "data-column=\"\(SVG.escape(column))\" data-y=\"\(SVG.number(value))\"><title>\(SVG.escape(row)), \(SVG.escape(column)): \(SVG.number(value))</title></rect>"
                out += "<text x=\"\(SVG.coordinate(x + cellWidth / 2))\" y=\"\(SVG.coordinate(y + cellHeight / 2 + 4))\" text-anchor=\"middle\" font-size=\"10\" "
                    + "fill=\"\(value > 0.55 ? "#fff" : "#000")\">\(String(format: "%.2f", value))</text>\n"
            }
        }
        for (c, column) in columns.enumerated() {
            out += "<text transform=\"translate(\(SVG.coordinate(left + (Double(c) + 0.5) * cellWidth - 4)) \(SVG.coordinate(bottom + 10))) rotate(20)\" font-size=\"10\">\(SVG.escape(column))</text>\n"
        }
        // The colour scale.
        for step in 0...10 {
            let y = bottom - Double(step + 1) * (bottom - top) / 11
            out += "<rect x=\"\(SVG.coordinate(right + 20))\" y=\"\(SVG.coordinate(y))\" width=\"14\" height=\"\(SVG.coordinate((bottom - top) / 11))\" fill=\"\(Self.color(Double(step) / 10))\"/>"
        }
        out += "<text x=\"\(SVG.coordinate(right + 38))\" y=\"\(SVG.coordinate(bottom - 2))\" font-size=\"10\">0</text>"
        out += "<text x=\"\(SVG.coordinate(right + 38))\" y=\"\(SVG.coordinate(top + 10))\" font-size=\"10\">1</text>\n"
        return out + "</svg>\n"
    }
}
