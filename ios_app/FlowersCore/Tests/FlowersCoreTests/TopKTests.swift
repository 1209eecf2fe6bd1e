import Foundation
import XCTest
@testable import FlowersCore

final class TopKTests: XCTestCase {
    func testHighestFirst() {
        let top = TopK.select(["rose": 0.1, "tulip": 0.6, "daisy": 0.25, "iris": 0.05], k: 3)
        XCTAssertEqual(top.map(\.label), ["tulip", "daisy", "rose"])
        XCTAssertEqual(top.map(\.confidence), [0.6, 0.25, 0.1])
    }

    func testFewerLabelsThanK() {
        XCTAssertEqual(TopK.select(["rose": 0.3, "tulip": 0.7], k: 5).map(\.label), ["tulip", "rose"])
    }

    func testZeroOrNegativeKGivesNothing() {
        XCTAssertEqual(TopK.select(["rose": 1], k: 0), [])
        XCTAssertEqual(TopK.select(["rose": 1], k: -2), [])
        XCTAssertEqual(TopK.select([:], k: 3), [])
    }

    /// Ties must not depend on dictionary order, which changes from run to run.
    func testTiesAreDeterministic() {
        for _ in 0..<20 {
            let scores = Dictionary(uniqueKeysWithValues: ["e", "b", "d", "a", "c"].map { ($0, Float(0.2)) })
            XCTAssertEqual(TopK.select(scores, k: 3).map(\.label), ["a", "b", "c"])
        }
    }

    func testNaNIsIgnored() {
        XCTAssertEqual(TopK.select(["bad": .nan, "rose": 0.1], k: 2).map(\.label), ["rose"])
    }

    func testArrayFormUsesIndexOrderForTies() throws {
        let top = try TopK.select(probabilities: [0.2, 0.5, 0.2, 0.1], labels: ["z", "y", "x", "w"], k: 3)
        XCTAssertEqual(top, [
            Prediction(label: "y", confidence: 0.5),
            Prediction(label: "z", confidence: 0.2),
            Prediction(label: "x", confidence: 0.2),
        ])
    }

    func testArrayFormAgreesWithSortingOnManyClasses() throws {
        var generator = SplitMix64(seed: 7)
        let labels = (0..<102).map { "class\($0)" }
        for _ in 0..<50 {
            let probabilities = labels.map { _ in Float(generator.next() % 1000) / 1000 }
            let expected = probabilities.enumerated()
                .sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                .prefix(5).map { labels[$0.offset] }
            XCTAssertEqual(try TopK.select(probabilities: probabilities, labels: labels, k: 5).map(\.label), expected)
        }
    }

    func testArrayFormRejectsCountMismatch() {
        XCTAssertThrowsError(try TopK.select(probabilities: [0.5, 0.5], labels: ["a"], k: 1)) { error in
            XCTAssertTrue("\(error)".contains("2 probabilities for 1 labels"))
        }
    }

    func testPredictionDescription() {
        XCTAssertEqual(Prediction(label: "rose", confidence: 0.876).description, "rose 88%")
    }
}

/// A small seeded generator, so the randomised test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
