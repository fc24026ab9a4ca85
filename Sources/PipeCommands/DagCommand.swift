import ArgumentParser
import PipeEngine

/// `pipe dag RECIPE`: the stage graph as text, Graphviz dot or Mermaid.
struct DagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dag", abstract: "Print the stage graph.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, dot, mermaid }

    @OptionGroup var options: RecipeOptions
    @Option(help: "text, dot or mermaid.") var format: Format = .text

    func run() throws {
        let loaded = try options.load()
        print(Self.render(loaded.pipeline, name: loaded.recipe.name, format: format))
    }

    static func render(_ pipeline: Pipeline, name: String, format: Format) -> String {
        let ordered = pipeline.order.map { pipeline.jobs[$0] }
        switch format {
        case .text:
            return ordered.map { job in
                let inputs = job.inputs.map { "\($0.role): \($0.job)" }.joined(separator: ", ")
                return "\(job.name) [\(job.kind)]" + (inputs.isEmpty ? "" : " <- \(inputs)")
            }.joined(separator: "\n")
        case .dot:
            var lines = ["digraph \"\(name)\" {", "  rankdir=LR;", "  node [shape=box];"]
            for job in ordered { lines.append("  \"\(job.name)\" [label=\"\(job.name)\\n(\(job.kind))\"];") }
            for job in ordered {
                for input in job.inputs { lines.append("  \"\(input.job)\" -> \"\(job.name)\" [label=\"\(input.role)\"];") }
            }
            return (lines + ["}"]).joined(separator: "\n")
        case .mermaid:
            var lines = ["graph LR"]
            for job in ordered { lines.append("  \(mermaidID(job.name))[\"\(job.name) (\(job.kind))\"]") }
            for job in ordered {
                for input in job.inputs { lines.append("  \(mermaidID(input.job)) -->|\(input.role)| \(mermaidID(job.name))") }
            }
            return lines.joined(separator: "\n")
        }
    }

    private static func mermaidID(_ name: String) -> String { "s_" + name.replacingOccurrences(of: "-", with: "_") }
}
