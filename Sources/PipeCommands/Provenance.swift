import Foundation
import PipeEngine
import PipeLedger
import PipeStages
import PipeTensor
#if canImport(Glibc)
import Glibc
#endif

/// What the ledger records about the machine and the invocation.
public enum Provenance {
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

    /// The Swift compiler pipe was built with (to the minor version).
    static var compiler: String {
        #if compiler(>=6.4)
        return "Swift 6.4 or newer"
        #elseif compiler(>=6.3)
        return "Swift 6.3"
        #elseif compiler(>=6.2)
        return "Swift 6.2"
        #else
        return "Swift 6.1"
        #endif
    }

    /// The CPU features that change which kernels run (OpenBLAS's, the hash's).
    static func cpuFeatures(cpuInfo: String) -> String {
        let wanted = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "sha_ni", "neon", "asimd"]
        guard let line = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") || $0.hasPrefix("Features") }) else { return "unknown" }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        return wanted.filter(flags.contains).joined(separator: " ")
    }

    /// The git commit the running binary was built from, from the `BINARY.build-info` file that
    /// `make` writes beside it; "unknown" without one, or with one older than the binary.
    public static func buildCommit(binary: String = "/proc/self/exe") -> String {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: binary)) ?? binary
        let manager = FileManager.default
        guard let info = try? String(contentsOfFile: path + ".build-info", encoding: .utf8),
              let infoDate = (try? manager.attributesOfItem(atPath: path + ".build-info"))?[.modificationDate] as? Date,
              let binaryDate = (try? manager.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
              infoDate >= binaryDate,
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("commit ") }) else {
            return "unknown (not built with make)"
        }
        return String(line.dropFirst("commit ".count))
    }

    /// Everything about this process that a built-in stage's bytes could depend on, beyond the key.
    static var environment: [String: String] {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return ["swift": compiler, "cpu_features": cpuFeatures(cpuInfo: cpuInfo), "openblas": BLAS.configuration,
                "openblas_core": BLAS.coreName, "openblas_threads": String(BLAS.threads),
                "training_threads": String(TrainingThreads.count), "pipe": PipeVersion.current, "commit": buildCommit()]
    }

    /// What a stage executed elsewhere records: `environment` and the `machine` line.
    static var stageEnvironment: [String: String] {
        environment.merging(["machine": machine]) { a, _ in a }
    }

    /// How the auditing process differs from a recorded `machine`, `host` and environment, one line each.
    static func differences(machine recordedMachine: String, host recordedHost: String, environment recorded: [String: String]) -> [String] {
        var differences: [String] = []
        if recordedMachine != machine { differences.append("machine: recorded \(recordedMachine); now \(machine)") }
        if recordedHost != host { differences.append("host: recorded \(recordedHost); now \(host)") }
        let current = environment
        for name in recorded.keys.sorted() where name != "pipe" && name != "machine" && current[name] != recorded[name] {
            differences.append("\(name): recorded \(recorded[name]!); now \(current[name] ?? "unknown")")
        }
        return differences
    }

    static func runEntry(for loaded: LoadedRecipe, tag: String?) -> RunEntry {
        RunEntry(recipeName: loaded.recipe.name, recipeFile: loaded.file,
                 recipeDigest: Digest.of(Data(loaded.text.utf8)).hex,
                 params: loaded.recipe.params.value.json, overrides: json(loaded.overrides.map(\.text)),
                 commandLine: CommandLine.arguments.joined(separator: " "), tag: tag, status: "running",
                 started: Date(), host: host, pipeVersion: PipeVersion.current, machine: machine, environment: json(environment))
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
