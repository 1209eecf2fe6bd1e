import Foundation

/// Temporal smoothing of per-frame class probabilities: an exponential moving average, keyed by
/// label, whose weight follows the time between frames rather than the frame count.
///
/// A per-frame weight would smooth twice as hard at 60 fps as at 30, so the app would feel
/// different on the Neural Engine and on the CPU. With a time constant `tau`, a frame `dt`
/// seconds after the last one gets the weight `1 - exp(-dt / tau)`: the display reacts in about
/// `tau` seconds whatever the frame rate.
public struct ProbabilitySmoother: Sendable {
    /// Seconds for the average to move about 63% of the way to a new steady input; 0 turns
    /// smoothing off.
    public var timeConstant: TimeInterval
    /// A gap longer than this (camera paused, app in background) starts afresh instead of
    /// blending with a stale scene.
    public var resetAfter: TimeInterval
    /// Labels whose smoothed probability falls below this are dropped, so the state stays as
    /// small as the set of labels actually seen.
    public var pruneBelow: Float = 1e-4

    public private(set) var probabilities: [String: Float] = [:]
    public private(set) var lastTime: TimeInterval?

    public init(timeConstant: TimeInterval = 0.3, resetAfter: TimeInterval = 1.5) {
        self.timeConstant = max(0, timeConstant)
        self.resetAfter = resetAfter
    }

    /// The weight a new frame gets after `dt` seconds.
    public func weight(after dt: TimeInterval) -> Float {
        guard timeConstant > 0 else { return 1 }
        return Float(1 - exp(-max(0, dt) / timeConstant))
    }

    /// Blend one frame in and return the smoothed probabilities.
    ///
    /// - Parameters:
    ///   - frame: this frame's probability per label. A label missing from it counts as 0.
    ///   - time: the frame's timestamp in seconds (any monotonic clock).
    public mutating func update(_ frame: [String: Float], at time: TimeInterval) -> [String: Float] {
        guard let last = lastTime, time >= last, time - last <= resetAfter else {
            // First frame, a clock that went backwards, or a long gap: take the frame as is.
            probabilities = frame
            lastTime = time
            return probabilities
        }
        let alpha = weight(after: time - last)
        var next: [String: Float] = [:]
        next.reserveCapacity(max(frame.count, probabilities.count))
        for (label, old) in probabilities {
            next[label] = old + alpha * ((frame[label] ?? 0) - old)
        }
        for (label, value) in frame where probabilities[label] == nil {
            next[label] = alpha * value
        }
        probabilities = next.filter { $0.value >= pruneBelow }
        lastTime = time
        return probabilities
    }

    /// Forget the history (a new model, a new photo).
    public mutating func reset() {
        probabilities = [:]
        lastTime = nil
    }
}
