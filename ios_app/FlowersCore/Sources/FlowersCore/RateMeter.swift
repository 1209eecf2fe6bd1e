import Foundation

/// Frames per second and inference latency over a sliding time window.
///
/// Timestamps are passed in (camera presentation times, or any monotonic clock), so the meter
/// holds no clock of its own and tests can drive it exactly.
public struct RateMeter: Sendable {
    public struct Sample: Sendable, Equatable {
        public var time: TimeInterval
        public var latencyMs: Double
    }

    /// How far back the averages look, in seconds.
    public var window: TimeInterval
    public private(set) var samples: [Sample] = []

    public init(window: TimeInterval = 2) {
        self.window = window
    }

    /// Record one classified frame.
    ///
    /// - Parameters:
    ///   - time: when the frame was captured, in seconds.
    ///   - latencyMs: how long its inference took, in milliseconds.
    public mutating func record(at time: TimeInterval, latencyMs: Double) {
        if let last = samples.last, time < last.time {
            samples.removeAll()  // the clock went backwards (a new session): start over
        }
        samples.append(Sample(time: time, latencyMs: latencyMs))
        let cutoff = time - window
        if let firstKept = samples.firstIndex(where: { $0.time >= cutoff }), firstKept > 0 {
            samples.removeFirst(firstKept)
        }
    }

    /// Classified frames per second: intervals over elapsed time in the window; nil until two
    /// frames with different timestamps are in it.
    public var framesPerSecond: Double? {
        guard samples.count >= 2, let first = samples.first, let last = samples.last, last.time > first.time else {
            return nil
        }
        return Double(samples.count - 1) / (last.time - first.time)
    }

    /// Mean inference latency in the window, in milliseconds.
    public var meanLatencyMs: Double? {
        guard !samples.isEmpty else { return nil }
        return samples.reduce(0) { $0 + $1.latencyMs } / Double(samples.count)
    }

    /// The latency below which `fraction` of the window's frames fall (nearest rank).
    public func latencyPercentile(_ fraction: Double) -> Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.map(\.latencyMs).sorted()
        let rank = Int((min(max(fraction, 0), 1) * Double(sorted.count)).rounded(.up))
        return sorted[max(rank, 1) - 1]
    }

    public var lastLatencyMs: Double? { samples.last?.latencyMs }

    public mutating func reset() {
        samples.removeAll()
    }
}
