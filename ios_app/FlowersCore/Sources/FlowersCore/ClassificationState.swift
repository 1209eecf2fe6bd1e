import Foundation

/// What the app shows over the preview.
public enum ClassificationState: Sendable, Equatable {
    /// No frame classified yet.
    case waiting
    /// The best class reaches the threshold: show it as the answer.
    case confident(top: [Prediction])
    /// Nothing reaches the threshold: say "no confident prediction" and show the candidates
    /// dimmed, rather than presenting a guess as an answer.
    case uncertain(top: [Prediction])

    public var top: [Prediction] {
        switch self {
        case .waiting: return []
        case let .confident(top), let .uncertain(top): return top
        }
    }

    public var isConfident: Bool {
        if case .confident = self { return true }
        return false
    }
}

/// When a prediction counts as confident.
///
/// With hysteresis, a label becomes confident at `threshold` and stays confident until it falls
/// below `threshold - hysteresis`, so a score hovering at the threshold does not blink. The
/// Android app's `ConfidenceGate` has the same rule and defaults (tests/vectors/threshold.json).
public struct ConfidencePolicy: Sendable, Equatable {
    /// The default threshold: at 0.5 or more the best label outweighs all the others together.
    public static let defaultThreshold: Float = 0.5
    /// The default hysteresis below the threshold for the label already shown.
    public static let defaultHysteresis: Float = 0.05

    /// The smallest top-1 probability shown as an answer, 0...1.
    public var threshold: Float
    /// How far below `threshold` the confident label may fall before it is dropped, 0...threshold.
    public var hysteresis: Float
    /// The label shown as confident after the last frame, if any.
    public private(set) var confidentLabel: String?

    public init(threshold: Float = ConfidencePolicy.defaultThreshold,
                hysteresis: Float = ConfidencePolicy.defaultHysteresis) {
        self.threshold = min(max(threshold, 0), 1)
        self.hysteresis = min(max(hysteresis, 0), self.threshold)
    }

    /// The state for a ranked list of predictions (highest first); remembers the confident label.
    public mutating func state(for top: [Prediction]) -> ClassificationState {
        guard let best = top.first else {
            confidentLabel = nil
            return .uncertain(top: [])
        }
        let needed = best.label == confidentLabel ? threshold - hysteresis : threshold
        confidentLabel = best.confidence >= needed ? best.label : nil
        return confidentLabel != nil ? .confident(top: top) : .uncertain(top: top)
    }

    /// The state for one still image: no history, so no hysteresis, and the memory is cleared.
    public mutating func stillState(for top: [Prediction]) -> ClassificationState {
        reset()
        return state(for: top)
    }

    /// Forget the confident label (a new model, the camera restarting).
    public mutating func reset() {
        confidentLabel = nil
    }
}

/// The whole per-frame path from raw probabilities to what is shown: smoothing, top-k, threshold.
public struct PredictionPipeline: Sendable {
    public var smoother: ProbabilitySmoother
    public var policy: ConfidencePolicy
    /// How many classes to show.
    public var k: Int
    public private(set) var state: ClassificationState = .waiting

    public init(smoother: ProbabilitySmoother = ProbabilitySmoother(),
                policy: ConfidencePolicy = ConfidencePolicy(), k: Int = 3) {
        self.smoother = smoother
        self.policy = policy
        self.k = k
    }

    /// Take one camera frame's probabilities.
    @discardableResult
    public mutating func process(frame: [String: Float], at time: TimeInterval) -> ClassificationState {
        let smoothed = smoother.update(frame, at: time)
        state = policy.state(for: TopK.select(smoothed, k: k))
        return state
    }

    /// Take a single still image: no smoothing, and the history is cleared.
    @discardableResult
    public mutating func process(still: [String: Float]) -> ClassificationState {
        smoother.reset()
        state = policy.stillState(for: TopK.select(still, k: k))
        return state
    }

    public mutating func reset() {
        smoother.reset()
        policy.reset()
        state = .waiting
    }
}
