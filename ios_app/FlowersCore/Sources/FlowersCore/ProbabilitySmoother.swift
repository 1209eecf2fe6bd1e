import Foundation

/// Temporal smoothing of per-frame class probabilities: an exponential moving average, keyed by
/// label, whose weight follows the time between frames rather than the frame count.
///
/// A per-frame weight would smooth twice as hard at 60 fps as at 30, so the app would feel
/// different on the Neural Engine and on the CPU. With a half-life `h`, a frame `dt` seconds
/// after the last one gets the weight `1 - 0.5^(dt / h)`: after `h` seconds an old frame counts
/// half, whatever the frame rate. The Android app's `ScoreSmoother` has the same rule, default
/// and reset gap; tests/vectors/smoothing.json holds the cases both platforms must agree on.
public struct ProbabilitySmoother: Sendable {
    /// Seconds after which an old frame's weight has halved; 0 turns smoothing off.
    public var halfLife: TimeInterval
    /// A gap longer than this (camera paused, app in background) starts afresh instead of
    /// blending with a stale scene.
    public var resetAfter: TimeInterval
    /// Labels whose smoothed probability falls below this are dropped, so the state stays as
    /// small as the set of labels actually seen.
    public var pruneBelow: Float = 1e-4

    public private(set) var probabilities: [String: Float] = [:]
    public private(set) var lastTime: TimeInterval?

    /// The default half-life, in seconds (the Android app's is the same 250 ms).
    public static let defaultHalfLife: TimeInterval = 0.25

    public init(halfLife: TimeInterval = ProbabilitySmoother.defaultHalfLife, resetAfter: TimeInterval = 1.5) {
        self.halfLife = max(0, halfLife)
        self.resetAfter = resetAfter
    }

    /// The weight a new frame gets after `dt` seconds.
    public func weight(after dt: TimeInterval) -> Float {
        guard halfLife > 0, dt.isFinite else { return 1 }
        return Float(1 - pow(0.5, max(0, dt) / halfLife))
    }

    /// Blend one frame in and return the smoothed probabilities.
    ///
    /// - Parameters:
    ///   - frame: this frame's probability per label. A label missing from it counts as 0.
    ///   - time: the frame's timestamp in seconds (any monotonic clock).
    public mutating func update(_ frame: [String: Float], at time: TimeInterval) -> [String: Float] {
        guard let last = lastTime, time >= last, time - last <= resetAfter else {
            // First frame, a clock that went backwards, or a long gap: take the frame as is.
            probabilities = frame.filter { $0.value >= pruneBelow }
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
