import Foundation
import XCTest

/// The committed fixture export folder (written by the Python side's manifest code, see
/// tests/test_ios_core_fixture.py): Flowers.mlpackage, flowers.tflite, labels.txt, manifest.json.
let fixtureExport = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures/export")

let fixtureLabels = ["daisy", "dandelion", "rose", "sunflower", "tulip"]

/// A fresh temporary folder, removed when the test ends.
func makeTemporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("FlowersCoreTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A writable copy of the fixture export folder.
func copyOfFixtureExport(_ test: XCTestCase) throws -> URL {
    let copy = try makeTemporaryFolder(test).appendingPathComponent("export")
    try FileManager.default.copyItem(at: fixtureExport, to: copy)
    return copy
}

func write(_ text: String, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}
