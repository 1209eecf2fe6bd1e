import Foundation
import XCTest
@testable import FlowersCore

final class FrameOrientationTests: XCTestCase {
    func testBackCameraMapping() {
        XCTAssertEqual(FrameOrientationTracker.backCamera(.portrait), .right)
        XCTAssertEqual(FrameOrientationTracker.backCamera(.portraitUpsideDown), .left)
        XCTAssertEqual(FrameOrientationTracker.backCamera(.landscapeLeft), .up)
        XCTAssertEqual(FrameOrientationTracker.backCamera(.landscapeRight), .down)
        for flat in [DeviceOrientation.faceUp, .faceDown, .unknown] {
            XCTAssertNil(FrameOrientationTracker.backCamera(flat))
        }
    }

    /// Opposite phone orientations need opposite rotations; all four upright ones differ.
    func testUprightOrientationsAreDistinct() {
        let upright: [DeviceOrientation] = [.portrait, .portraitUpsideDown, .landscapeLeft, .landscapeRight]
        XCTAssertEqual(Set(upright.compactMap { FrameOrientationTracker.backCamera($0)?.rawValue }).count, 4)
    }

    func testLyingFlatKeepsTheLastOrientation() {
        var tracker = FrameOrientationTracker()
        XCTAssertEqual(tracker.current, .right)
        XCTAssertEqual(tracker.update(.landscapeLeft), .up)
        XCTAssertEqual(tracker.update(.faceUp), .up)
        XCTAssertEqual(tracker.update(.unknown), .up)
        XCTAssertEqual(tracker.update(.portrait), .right)
    }

    func testRawValuesAreTheEXIFNumbers() {
        XCTAssertEqual(ExifOrientation.up.rawValue, 1)
        XCTAssertEqual(ExifOrientation.right.rawValue, 6)
        XCTAssertEqual(ExifOrientation.left.rawValue, 8)
    }
}

final class ComputeUnitsChoiceTests: XCTestCase {
    func testStoredValues() {
        XCTAssertEqual(ComputeUnitsChoice(storedValue: "cpuOnly"), .cpuOnly)
        XCTAssertEqual(ComputeUnitsChoice(storedValue: "quantum"), .all)
        XCTAssertEqual(ComputeUnitsChoice(storedValue: nil), .all)
    }

    func testEveryChoiceHasDistinctTitles() {
        let all = ComputeUnitsChoice.allCases
        XCTAssertEqual(all.first, .all)
        XCTAssertTrue(all.contains(.cpuOnly) && all.contains(.cpuAndGPU))
        XCTAssertEqual(Set(all.map(\.title)).count, all.count)
        XCTAssertEqual(Set(all.map(\.shortTitle)).count, all.count)
        XCTAssertEqual(Set(all.map(\.id)).count, all.count)
    }
}

final class FormattingTests: XCTestCase {
    func testPercent() {
        XCTAssertEqual(Formatting.percent(0.953), "95%")
        XCTAssertEqual(Formatting.percent(0.995), "100%")
        XCTAssertEqual(Formatting.percent(1.2), "100%")
        XCTAssertEqual(Formatting.percent(-0.1), "0%")
        XCTAssertEqual(Formatting.percent(.nan), "–")
    }

    func testTimesAndRates() {
        XCTAssertEqual(Formatting.milliseconds(12.345), "12.3 ms")
        XCTAssertEqual(Formatting.milliseconds(0.05), "0.1 ms")
        XCTAssertEqual(Formatting.milliseconds(nil), "– ms")
        XCTAssertEqual(Formatting.milliseconds(.infinity), "– ms")
        XCTAssertEqual(Formatting.framesPerSecond(29.96), "30.0 fps")
        XCTAssertEqual(Formatting.framesPerSecond(nil), "– fps")
        XCTAssertEqual(Formatting.oneDecimal(-0.04), "0.0")
        XCTAssertEqual(Formatting.oneDecimal(-2.25), "-2.3")
    }

    func testErrorsReadAsOneLine() {
        let error = FlowersCoreError.fileNotFound(path: "Model/labels.txt")
        XCTAssertEqual(error.errorDescription, error.description)
        XCTAssertFalse(error.description.contains("\n"))
    }
}
