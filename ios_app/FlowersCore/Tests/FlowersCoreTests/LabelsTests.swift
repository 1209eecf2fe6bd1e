import Foundation
import XCTest
@testable import FlowersCore

final class LabelsTests: XCTestCase {
    private func parse(_ text: String) throws -> [String] {
        try LabelsFile.parse(Data(text.utf8), path: "labels.txt")
    }

    private func assertInvalid(_ text: String, mentions fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            guard case .invalidLabels = error as? FlowersCoreError else {
                return XCTFail("expected invalidLabels, got \(error)", file: file, line: line)
            }
            XCTAssertTrue("\(error)".contains(fragment), "\(error) should mention \(fragment)", file: file, line: line)
        }
    }

    func testReadsTheFixtureInOrder() throws {
        XCTAssertEqual(try LabelsFile.read(fixtureExport.appendingPathComponent("labels.txt")), fixtureLabels)
    }

    func testTrailingNewlineIsOptionalAndCRLFIsAccepted() throws {
        XCTAssertEqual(try parse("a\nb"), ["a", "b"])
        XCTAssertEqual(try parse("a\nb\n"), ["a", "b"])
        XCTAssertEqual(try parse("a\r\nb\r\n"), ["a", "b"])
    }

    func testKeepsInnerSpacesAndUnicode() throws {
        XCTAssertEqual(try parse("pink primrose\nbird of paradise\nœillet\n"), ["pink primrose", "bird of paradise", "œillet"])
    }

    func testRejectsBlankLinesNamingTheLine() {
        assertInvalid("a\n\nb\n", mentions: "line 2 is blank")
        assertInvalid("a\n   \nb\n", mentions: "line 2 is blank")
        assertInvalid("a\nb\n\n", mentions: "line 3 is blank")
    }

    func testRejectsSurroundingWhitespace() {
        assertInvalid("a\n b\n", mentions: "line 2")
        assertInvalid("a\tx\nb \n", mentions: "surrounding whitespace")
    }

    func testRejectsDuplicates() {
        assertInvalid("rose\ntulip\nrose\n", mentions: "appears twice (lines 1 and 3)")
    }

    func testRejectsEmptyFileAndDropsAByteOrderMark() throws {
        assertInvalid("", mentions: "is empty")
        XCTAssertEqual(try LabelsFile.parse(Data([0xEF, 0xBB, 0xBF]) + Data("a\n".utf8)), ["a"])
    }

    func testRejectsInvalidUTF8() {
        XCTAssertThrowsError(try LabelsFile.parse(Data([0x61, 0x0A, 0xFF, 0xFE, 0x0A]), path: "x/labels.txt")) { error in
            XCTAssertEqual(error as? FlowersCoreError, .notUTF8(path: "x/labels.txt"))
        }
    }

    func testMissingFile() {
        let url = fixtureExport.appendingPathComponent("missing.txt")
        XCTAssertThrowsError(try LabelsFile.read(url)) { error in
            XCTAssertEqual(error as? FlowersCoreError, .fileNotFound(path: url.path))
        }
    }

    func testCompareEqualLabels() {
        XCTAssertNil(LabelMismatch.compare(model: fixtureLabels, file: fixtureLabels))
    }

    func testCompareCount() {
        XCTAssertEqual(LabelMismatch.compare(model: ["a", "b"], file: ["a", "b", "c"]), .count(model: 2, file: 3))
    }

    func testCompareOrderIsItsOwnMismatch() {
        let mismatch = LabelMismatch.compare(model: ["a", "b", "c"], file: ["a", "c", "b"])
        XCTAssertEqual(mismatch, .order(index: 1, model: "b", file: "c"))
        XCTAssertTrue(mismatch?.description.contains("another order") == true)
    }

    func testCompareDifferentLabels() {
        XCTAssertEqual(LabelMismatch.compare(model: ["a", "b"], file: ["a", "x"]), .different(index: 1, model: "b", file: "x"))
    }

    /// "é" precomposed and decomposed look the same but are different identifiers (Python
    /// compares code points too); Swift's `==` alone would call them equal.
    func testCompareIsByCodePoints() {
        XCTAssertEqual(LabelMismatch.compare(model: ["caf\u{e9}"], file: ["cafe\u{301}"]),
                       .different(index: 0, model: "caf\u{e9}", file: "cafe\u{301}"))
    }
}
