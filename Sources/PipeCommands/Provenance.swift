import Foundation
import PipeEngine
import PipeLedger
#if canImport(Glibc)
import Glibc
#endif

/// What the ledger records about the machine and the invocation.
enum Provenance {
    static var host: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }

    /// OS, CPU model and core count.
    static var machine: String {
        var os = "unknown OS"
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            os = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var cpu = "unknown CPU"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return "\(os); \(cpu); \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }

    static func runEntry(for loaded: LoadedRecipe, tag: String?) -> RunEntry {
        RunEntry(recipeName: loaded.recipe.name, recipeFile: loaded.file,
                 recipeDigest: Digest.of(Data(loaded.text.utf8)).hex,
                 params: loaded.recipe.params.value.json, overrides: json(loaded.overrides.map(\.text)),
                 commandLine: CommandLine.arguments.joined(separator: " "), tag: tag, status: "running",
                 started: Date(), host: host, pipeVersion: PipeVersion.current, machine: machine)
    }

    /// A string map as a JSON object with sorted keys, without the cost of a JSONEncoder per row.
    static func json(_ map: [String: String]) -> String {
        guard !map.isEmpty else { return "{}" }
        return "{" + map.keys.sorted().map { "\(quote($0)):\(quote(map[$0]!))" }.joined(separator: ",") + "}"
    }

    private static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
