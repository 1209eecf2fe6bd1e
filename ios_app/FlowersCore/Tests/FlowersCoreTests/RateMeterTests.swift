import Foundation
import XCTest
@testable import FlowersCore

final class RateMeterTests: XCTestCase {
    func testEmptyAndSingleFrame() {
        var meter = RateMeter()
        XCTAssertNil(meter.framesPerSecond)
        XCTAssertNil(meter.meanLatencyMs)
        meter.record(at: 1, latencyMs: 8)
        XCTAssertNil(meter.framesPerSecond)
        XCTAssertEqual(meter.meanLatencyMs, 8)
        XCTAssertEqual(meter.lastLatencyMs, 8)
    }

    func testSteadyFrameRate() throws {
        var meter = RateMeter(window: 2)
        // 1/32 s is exact in binary, so the window's edge is exact too.
        for frame in 0..<96 {
            meter.record(at: Double(frame) / 32, latencyMs: Double(10 + frame % 3))
        }
        XCTAssertEqual(try XCTUnwrap(meter.framesPerSecond), 32, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(meter.meanLatencyMs), 11, accuracy: 0.05)
        // Only the last two seconds are kept: 65 frames, both ends included.
        XCTAssertEqual(meter.samples.count, 65)
    }

    func testFollowsAChangeOfRate() throws {
        var meter = RateMeter(window: 1)
        var time = 0.0
        for _ in 0..<60 { time += 1.0 / 60; meter.record(at: time, latencyMs: 5) }
        for _ in 0..<30 { time += 1.0 / 15; meter.record(at: time, latencyMs: 40) }
        XCTAssertEqual(try XCTUnwrap(meter.framesPerSecond), 15, accuracy: 1e-6)
        XCTAssertEqual(meter.meanLatencyMs, 40)
    }

    func testPercentile() {
        var meter = RateMeter(window: 100)
        for (index, latency) in [5.0, 1, 4, 2, 3, 10, 9, 8, 7, 6].enumerated() {
            meter.record(at: Double(index), latencyMs: latency)
        }
        XCTAssertEqual(meter.latencyPercentile(0.5), 5)
        XCTAssertEqual(meter.latencyPercentile(0.9), 9)
        XCTAssertEqual(meter.latencyPercentile(1), 10)
        XCTAssertEqual(meter.latencyPercentile(0), 1)
    }

    func testClockGoingBackStartsOver() {
        var meter = RateMeter()
        meter.record(at: 100, latencyMs: 1)
        meter.record(at: 100.1, latencyMs: 1)
        meter.record(at: 3, latencyMs: 2)
        XCTAssertEqual(meter.samples.count, 1)
        XCTAssertNil(meter.framesPerSecond)
    }

    func testSameTimestampGivesNoRate() {
        var meter = RateMeter()
        meter.record(at: 1, latencyMs: 1)
        meter.record(at: 1, latencyMs: 1)
        XCTAssertNil(meter.framesPerSecond)
        meter.reset()
        XCTAssertTrue(meter.samples.isEmpty)
    }
}
