import Foundation
import XCTest
@testable import FlowersCore

final class SmoothingTests: XCTestCase {
    func testFirstFrameIsTakenAsIs() {
        var smoother = ProbabilitySmoother(halfLife: 0.5)
        XCTAssertEqual(smoother.update(["rose": 0.9, "tulip": 0.1], at: 10), ["rose": 0.9, "tulip": 0.1])
    }

    func testWeightFollowsElapsedTime() {
        let smoother = ProbabilitySmoother(halfLife: 0.5)
        XCTAssertEqual(smoother.weight(after: 0.5), Float(0.5), accuracy: 1e-6)
        XCTAssertEqual(smoother.weight(after: 0), 0)
        XCTAssertEqual(smoother.weight(after: -1), 0)
        XCTAssertEqual(ProbabilitySmoother(halfLife: 0).weight(after: 0.01), 1)
    }

    func testBlendsTowardTheNewFrame() {
        var smoother = ProbabilitySmoother(halfLife: 0.5)
        _ = smoother.update(["rose": 1.0], at: 0)
        let out = smoother.update(["tulip": 1.0], at: 0.5)
        let alpha = Float(0.5)
        XCTAssertEqual(out["rose"] ?? -1, 1 - alpha, accuracy: 1e-6)  // absent counts as 0
        XCTAssertEqual(out["tulip"] ?? -1, alpha, accuracy: 1e-6)
    }

    /// The point of a half-life: 30 fps and 60 fps reach the same value after one second.
    func testSameResponseAtDifferentFrameRates() {
        func response(fps: Double) -> Float {
            var smoother = ProbabilitySmoother(halfLife: 0.3)
            _ = smoother.update(["rose": 0], at: 0)
            var result: [String: Float] = [:]
            for frame in 1...Int(fps) {
                result = smoother.update(["rose": 1], at: Double(frame) / fps)
            }
            return result["rose"] ?? -1
        }
        XCTAssertEqual(response(fps: 30), response(fps: 60), accuracy: 1e-4)
        XCTAssertEqual(response(fps: 30), Float(1 - pow(0.5, 1 / 0.3)), accuracy: 1e-4)
    }

    func testAOneFrameGlitchDoesNotFlipTheAnswer() {
        var pipeline = PredictionPipeline(smoother: ProbabilitySmoother(halfLife: 0.3),
                                          policy: ConfidencePolicy(threshold: 0.5), k: 3)
        for frame in 0..<30 {
            pipeline.process(frame: ["rose": 0.9, "tulip": 0.1], at: Double(frame) / 30)
        }
        let state = pipeline.process(frame: ["rose": 0.05, "tulip": 0.95], at: 1.0)
        XCTAssertEqual(state.top.first?.label, "rose")
        XCTAssertTrue(state.isConfident)
    }

    func testLongGapOrClockGoingBackResets() {
        var smoother = ProbabilitySmoother(halfLife: 0.3, resetAfter: 1)
        _ = smoother.update(["rose": 1], at: 0)
        XCTAssertEqual(smoother.update(["tulip": 1], at: 5), ["tulip": 1])
        XCTAssertEqual(smoother.update(["rose": 1], at: 4), ["rose": 1])
    }

    func testZeroHalfLifeMeansNoSmoothing() {
        var smoother = ProbabilitySmoother(halfLife: 0)
        _ = smoother.update(["rose": 1], at: 0)
        XCTAssertEqual(smoother.update(["tulip": 1], at: 0.1), ["tulip": 1])  // rose decays to 0, pruned
    }

    func testFadedLabelsArePruned() {
        var smoother = ProbabilitySmoother(halfLife: 0.1)
        _ = smoother.update(["rose": 1], at: 0)
        var out: [String: Float] = [:]
        for step in 1...20 { out = smoother.update(["tulip": 1], at: Double(step) * 0.1) }
        XCTAssertNil(out["rose"])
        XCTAssertEqual(out.count, 1)
    }

    func testReset() {
        var smoother = ProbabilitySmoother()
        _ = smoother.update(["rose": 1], at: 0)
        smoother.reset()
        XCTAssertEqual(smoother.probabilities, [:])
        XCTAssertNil(smoother.lastTime)
    }
}

final class ConfidenceTests: XCTestCase {
    func testThresholdSplitsConfidentFromUncertain() {
        var policy = ConfidencePolicy(threshold: 0.6, hysteresis: 0)
        let sure = [Prediction(label: "rose", confidence: 0.6), Prediction(label: "tulip", confidence: 0.3)]
        let unsure = [Prediction(label: "rose", confidence: 0.59), Prediction(label: "tulip", confidence: 0.3)]
        XCTAssertEqual(policy.state(for: sure), .confident(top: sure))
        XCTAssertEqual(policy.state(for: unsure), .uncertain(top: unsure))
        XCTAssertEqual(policy.state(for: []), .uncertain(top: []))
    }

    func testThresholdIsClamped() {
        XCTAssertEqual(ConfidencePolicy(threshold: 1.7).threshold, 1)
        XCTAssertEqual(ConfidencePolicy(threshold: -1).threshold, 0)
        XCTAssertEqual(ConfidencePolicy(threshold: 0.1, hysteresis: 0.5).hysteresis, 0.1)
    }

    func testPipelineStates() {
        var pipeline = PredictionPipeline(policy: ConfidencePolicy(threshold: 0.5), k: 2)
        XCTAssertEqual(pipeline.state, .waiting)
        XCTAssertEqual(pipeline.state.top, [])
        let flat = pipeline.process(frame: ["a": 0.34, "b": 0.33, "c": 0.33], at: 0)
        XCTAssertFalse(flat.isConfident)
        XCTAssertEqual(flat.top.map(\.label), ["a", "b"])
        pipeline.reset()
        XCTAssertEqual(pipeline.state, .waiting)
    }

    func testStillImagesAreNotSmoothed() {
        var pipeline = PredictionPipeline(policy: ConfidencePolicy(threshold: 0.5))
        pipeline.process(frame: ["rose": 1], at: 0)
        let state = pipeline.process(still: ["tulip": 0.8, "rose": 0.2])
        XCTAssertEqual(state, .confident(top: [Prediction(label: "tulip", confidence: 0.8), Prediction(label: "rose", confidence: 0.2)]))
        XCTAssertNil(pipeline.smoother.lastTime)
    }
}
