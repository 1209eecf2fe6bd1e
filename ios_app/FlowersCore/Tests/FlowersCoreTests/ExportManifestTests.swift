import Foundation
import XCTest
@testable import FlowersCore

final class ExportManifestTests: XCTestCase {
    private let manifestURL = fixtureExport.appendingPathComponent("manifest.json")

    private func fixtureJSON() throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
    }

    private func decode(_ object: [String: Any]) throws -> ExportManifest {
        try ExportManifest.decode(JSONSerialization.data(withJSONObject: object), path: "m.json")
    }

    func testDecodesThePythonManifest() throws {
        let manifest = try ExportManifest.read(manifestURL)
        XCTAssertEqual(manifest.schemaVersion, 1)
        XCTAssertEqual(manifest.modelName, "Flowers")
        XCTAssertEqual(manifest.labels.file, "labels.txt")
        XCTAssertEqual(manifest.labels.count, 5)
        XCTAssertEqual(manifest.sourceModel.file, "model.keras")
        XCTAssertEqual(manifest.artifacts.count, 2)
        let tflite = manifest.artifacts[0]
        XCTAssertEqual(tflite.inputShape, [1, 96, 96, 3])
        XCTAssertEqual(tflite.inputQuantization, ExportManifest.Quantization(scale: 1, zeroPoint: 0))
        XCTAssertEqual(tflite.outputQuantization?.scale, 0.00390625)
        XCTAssertNil(manifest.artifacts[1].inputQuantization)
    }

    func testDefaultArtifactPerPlatform() throws {
        let manifest = try ExportManifest.read(manifestURL)
        XCTAssertEqual(manifest.defaultArtifact(for: "ios")?.file, "Flowers.mlpackage")
        XCTAssertEqual(manifest.defaultArtifact(for: "android")?.file, "flowers.tflite")
        XCTAssertNil(manifest.defaultArtifact(for: "watchos"))
    }

    func testDefaultArtifactFallsBackToTheFormat() throws {
        var manifest = try ExportManifest.read(manifestURL)
        for index in manifest.artifacts.indices { manifest.artifacts[index].defaultFor = nil }
        XCTAssertEqual(manifest.defaultArtifact(for: "ios")?.format, "mlpackage")
    }

    func testRoundTripsThroughCodable() throws {
        let manifest = try ExportManifest.read(manifestURL)
        let again = try ExportManifest.decode(JSONEncoder().encode(manifest))
        XCTAssertEqual(again, manifest)
    }

    func testUnknownFieldsAreIgnored() throws {
        var object = try fixtureJSON()
        object["something_new"] = ["nested": [1, 2, 3]]
        XCTAssertEqual(try decode(object).modelName, "Flowers")
    }

    func testOtherSchemaVersionIsReportedAsSuch() throws {
        var object = try fixtureJSON()
        object["schema_version"] = 2
        object["artifacts"] = "changed shape in schema 2"
        XCTAssertThrowsError(try decode(object)) { error in
            XCTAssertEqual(error as? FlowersCoreError, .unsupportedManifestSchema(path: "m.json", found: 2, expected: 1))
        }
    }

    func testMissingKeyIsNamed() throws {
        var object = try fixtureJSON()
        var labels = try XCTUnwrap(object["labels"] as? [String: Any])
        labels.removeValue(forKey: "sha256")
        object["labels"] = labels
        XCTAssertThrowsError(try decode(object)) { error in
            XCTAssertTrue("\(error)".contains("missing key labels.sha256"), "\(error)")
        }
    }

    func testWrongTypeIsNamed() throws {
        var object = try fixtureJSON()
        var artifacts = try XCTUnwrap(object["artifacts"] as? [[String: Any]])
        artifacts[1]["num_labels"] = "five"
        object["artifacts"] = artifacts
        XCTAssertThrowsError(try decode(object)) { error in
            XCTAssertTrue("\(error)".contains("artifacts[1].num_labels"), "\(error)")
        }
    }

    func testNotJSONAndNoVersion() {
        XCTAssertThrowsError(try ExportManifest.decode(Data("{oops".utf8), path: "m.json")) { error in
            guard case .malformedManifest(path: "m.json", _)? = error as? FlowersCoreError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try ExportManifest.decode(Data("{}".utf8), path: "m.json")) { error in
            XCTAssertEqual(error as? FlowersCoreError, .malformedManifest(path: "m.json", reason: "no schema_version"))
        }
    }
}
