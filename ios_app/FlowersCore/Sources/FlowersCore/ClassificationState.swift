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
public struct ConfidencePolicy: Sendable, Equatable {
    /// The smallest top-1 probability shown as an answer, 0...1.
    public var threshold: Float

    public init(threshold: Float = 0.6) {
        self.threshold = min(max(threshold, 0), 1)
    }

    /// The state for a ranked list of predictions (highest first).
    public func state(for top: [Prediction]) -> ClassificationState {
        guard let best = top.first else { return .uncertain(top: []) }
        return best.confidence >= threshold ? .confident(top: top) : .uncertain(top: top)
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
        state = policy.state(for: TopK.select(still, k: k))
        return state
    }

    public mutating func reset() {
        smoother.reset()
        state = .waiting
    }
}
