import Foundation

/// With `PIPE_PROFILE=1`, prints how long each phase of a command took to stderr.
struct PhaseTimer {
    private let enabled = ProcessInfo.processInfo.environment["PIPE_PROFILE"] == "1"
    private var last = ContinuousClock.now
    private let start = ContinuousClock.now

    mutating func mark(_ phase: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        Terminal.error("profile: \(phase.padding(toLength: 10, withPad: " ", startingAt: 0)) \(Self.ms(now - last)) (total \(Self.ms(now - start)))")
        last = now
    }

    private static func ms(_ duration: Duration) -> String {
        String(format: "%7.1f ms", Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
    }
}
