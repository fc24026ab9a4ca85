import Foundation
import PipeTraining

/// A table of text cells, rendered as Markdown or HTML.
public struct Table: Sendable, Equatable {
    public var header: [String]
    public var rows: [[String]]

    public var markdown: String {
        ([header, header.map { _ in "---" }] + rows).map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n"
    }

    public var html: String {
        "<table>\n<tr>" + header.map { "<th>\(SVG.escape($0))</th>" }.joined() + "</tr>\n"
            + rows.map { "<tr>" + $0.map { "<td>\(SVG.escape($0))</td>" }.joined() + "</tr>\n" }.joined() + "</table>\n"
    }
}

extension Report {
    /// An L-infinity budget in units of 1/255 ("8/255"), to two decimals when it is not whole.
    static func per255(_ eps: Double) -> String {
        let units = eps * 255
        return (abs(units - units.rounded()) < 0.01 ? String(Int(units.rounded())) : String(format: "%.2f", units)) + "/255"
    }

    static func format(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "" }

    /// The evaluations side by side: clean accuracy, accuracy under each attack and budget, the
    /// smoothed accuracy and certified accuracy at each radius, the Med-R2 probes.
    public var summary: Table {
        let evaluations = self.evaluations
        var attackColumns: [(method: String, eps: Double)] = []
        for (_, report) in evaluations {
            for a in report.attacks where !attackColumns.contains(where: { $0.method == a.method && $0.eps == a.eps }) {
                attackColumns.append((a.method, a.eps))
            }
        }
        attackColumns.sort { ($0.method, $0.eps) < ($1.method, $1.eps) }
        let radii = Array(Set(evaluations.flatMap { $0.report.smoothing?.certified.certifiedAccuracy.keys.map { $0 } ?? [] }))
            .sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
        let smoothed = evaluations.contains { $0.report.smoothing != nil }
        var header = ["model", "clean", "format"]
        // Clean accuracy on the attacked records (the same records for every attack of an
        // evaluation), which each attack's accuracy compares with.
        if !attackColumns.isEmpty { header.append("clean (attacked records)") }
        header += attackColumns.map { "\($0.method) \($0.method == "pgd_l2" ? SVG.number($0.eps) : Self.per255($0.eps))" }
        if smoothed { header += ["smoothed (sigma)"] + radii.map { "certified @\($0)" } }
        header += ["hint drop", "shuffle drop", "chains fully correct"]
        let rows = evaluations.map { label, report -> [String] in
            var row = [label, Self.format(report.clean.accuracy), Self.format(report.clean.formatRate)]
            if !attackColumns.isEmpty { row.append(Self.format(report.attacks.first.map { $0.accuracy + $0.drop })) }
            row += attackColumns.map { column in
                Self.format(report.attacks.first { $0.method == column.method && $0.eps == column.eps }?.accuracy)
            }
            if smoothed {
                row.append(report.smoothing.map { Self.format($0.smoothedAccuracy) + " (\(SVG.number($0.sigma)))" } ?? "")
                row += radii.map { Self.format(report.smoothing?.certified.certifiedAccuracy[$0]) }
            }
            row += [Self.format(report.cues["misleading_hint"]?.drop), Self.format(report.cues["shuffled_options"]?.drop),
                    Self.format(report.stepwise.fullyCorrect)]
            return row
        }
        return Table(header: header, rows: rows)
    }

    /// Each smoothing calibration: the candidates' certified accuracy and the criterion's scores.
    var calibrations: [(label: String, note: String, table: Table)] {
        sources.compactMap { source in
            guard let s = source.smoothing else { return nil }
            let radii = Array(Set(s.candidates.flatMap(\.certifiedAccuracy.keys))).sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
            let rows = zip(s.candidates, s.scores).map { candidate, score in
                [SVG.number(candidate.sigma) + (candidate.sigma == s.sigma ? " (chosen)" : "")] + radii.map { Self.format(candidate.certifiedAccuracy[$0]) }
                    + [Self.format(candidate.meanRadius), Self.format(candidate.abstainRate), Self.format(score)]
            }
            let reach = s.candidates.map { "\(SVG.number($0.sigma)): \(Self.format($0.largestCertifiableRadius))" }.joined(separator: ", ")
            let note = "\(source.label): sigma chosen by \(s.criterion) on \(s.records) \(s.split) records; CERTIFY with n0 \(s.n0), n \(s.n), alpha \(s.alpha)"
                + (s.candidates.contains { $0.largestCertifiableRadius != nil } ? " (the largest radius it can certify, by sigma: \(reach))" : "")
                + (s.finetuneEpochs > 0 ? "; each candidate fine-tuned \(s.finetuneEpochs) epochs on noisy images." : ".")
            return (source.label, note, Table(header: ["sigma"] + radii.map { "certified @\($0)" } + ["mean radius", "abstain", "score"], rows: rows))
        }
    }

    /// The final metrics of each stage that is not an evaluation (the summary shows those): training
    /// stages, `command` stages that write `metrics.json`. One table each, metric names sorted.
    public var stageMetrics: [(label: String, table: Table)] {
        sources.compactMap { source in
            guard source.evaluation == nil, !source.metrics.isEmpty else { return nil }
            let rows = source.metrics.keys.sorted().map { [$0, String(format: "%.4g", source.metrics[$0]!)] }
            return (source.label, Table(header: ["metric", "value"], rows: rows))
        }
    }

    /// What `pipe report` prints: the results table, or else each stage's metrics.
    public var printedTables: String {
        if !evaluations.isEmpty { return summary.markdown }
        return stageMetrics.map { "\($0.label)\n" + $0.table.markdown }.joined(separator: "\n")
    }

    static let notes = """
        Accuracy is Med-R1's: the letter in `<answer> X </answer>` must equal the ground truth; no answer counts as wrong. \
        Attacks perturb the [0, 1] pixels (eps in units of 1/255 for L-infinity). Certified accuracy at radius r: the share of \
        records whose smoothed prediction is correct with a certified L2 radius of at least r (abstentions count as wrong); \
        smoothed accuracy is PREDICT's, abstentions counted wrong. Drops are clean accuracy minus the probe's.
        """

    /// The report as Markdown: the side-by-side table, the calibrations, and the list of charts in
    /// the HTML file.
    public var markdown: String {
        var lines = ["# \(title)", ""]
        if !evaluations.isEmpty { lines += ["## Results (test split)", "", summary.markdown, Self.notes, ""] }
        for calibration in calibrations { lines += ["## Smoothing calibration", "", calibration.note, "", calibration.table.markdown] }
        let metrics = stageMetrics
        if !metrics.isEmpty { lines += ["## Stage metrics", ""] + metrics.flatMap { ["### \($0.label)", "", $0.table.markdown] } }
        let titles = charts.compactMap { Self.attribute("data-title", in: $0.svg) }
        if !titles.isEmpty { lines += ["## Charts (in report.html)", ""] + titles.map { "- \($0)" } + [""] }
        return lines.joined(separator: "\n")
    }

    /// The report as one self-contained XHTML file: tables and inline SVG charts, no scripts, no network.
    public var html: String {
        var body = "<h1>\(SVG.escape(title))</h1>\n"
        if !evaluations.isEmpty {
            body += "<h2>Results (test split)</h2>\n" + summary.html + "<p class=\"note\">\(SVG.escape(Self.notes))</p>\n"
        }
        for calibration in calibrations {
            body += "<h2>Smoothing calibration</h2>\n<p>\(SVG.escape(calibration.note))</p>\n" + calibration.table.html
        }
        let metrics = stageMetrics
        if !metrics.isEmpty {
            body += "<h2>Stage metrics</h2>\n" + metrics.map { "<h3>\(SVG.escape($0.label))</h3>\n" + $0.table.html }.joined()
        }
        return Self.document(title: title, body: body + Self.figures(charts))
    }

    /// The charts as figures, a heading at each new section.
    static func figures(_ charts: [Chart]) -> String {
        var html = "", section = ""
        for chart in charts {
            if chart.section != section {
                section = chart.section
                html += "<h2>\(SVG.escape(section))</h2>\n"
            }
            html += "<figure>\n" + chart.svg + "</figure>\n"
        }
        return html
    }

    /// A self-contained XHTML document around `body`.
    static func document(title: String, body: String) -> String {
        """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>\(SVG.escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            th:first-child, td:first-child { text-align: left; }
            figure { margin: 1em 0; display: inline-block; }
            .note { font-size: 12px; color: #555; max-width: 60em; }
            </style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }

    static func attribute(_ name: String, in svg: String) -> String? {
        guard let start = svg.range(of: name + "=\"") else { return nil }
        let rest = svg[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }
}
