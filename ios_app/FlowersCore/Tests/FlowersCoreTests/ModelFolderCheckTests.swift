import Foundation
import XCTest
@testable import FlowersCore

final class ModelFolderCheckTests: XCTestCase {
    func testTheBundledFolderPassesEveryCheck() {
        let report = ModelFolderCheck.run(folder: fixtureExport, modelLabels: fixtureLabels)
        XCTAssertEqual(report.findings, [])
        XCTAssertTrue(report.isClean)
        XCTAssertTrue(report.packageVerified)
        XCTAssertEqual(report.manifest?.modelName, "Flowers")
    }

    func testTamperedPackageIsAnError() throws {
        let folder = try copyOfFixtureExport(self)
        try write("changed", to: folder.appendingPathComponent("Flowers.mlpackage/Data/com.apple.CoreML/model.mlmodel"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        XCTAssertFalse(report.packageVerified)
        XCTAssertEqual(report.errors.count, 1)
        XCTAssertTrue(report.errors[0].message.contains("Flowers.mlpackage: sha256"), report.errors[0].message)
        XCTAssertTrue(report.errors[0].message.contains("flowers-mobile bundle --platform ios"))
    }

    func testAddedFileInPackageIsAnError() throws {
        let folder = try copyOfFixtureExport(self)
        try write("extra", to: folder.appendingPathComponent("Flowers.mlpackage/Data/extra.bin"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        XCTAssertFalse(report.packageVerified)
        XCTAssertEqual(report.errors.count, 1)
    }

    func testModelLabelsInAnotherOrderAreAnError() {
        var labels = fixtureLabels
        labels.swapAt(0, 1)
        let report = ModelFolderCheck.run(folder: fixtureExport, modelLabels: labels)
        XCTAssertEqual(report.errors.map(\.message), [
            LabelMismatch.order(index: 0, model: "dandelion", file: "daisy").description,
        ])
    }

    func testModelWithOtherLabelCountIsAnError() {
        let report = ModelFolderCheck.run(folder: fixtureExport, modelLabels: Array(fixtureLabels.prefix(4)))
        let messages = report.errors.map(\.message)
        XCTAssertTrue(messages.contains("the model has 4 labels, labels.txt has 5"), "\(messages)")
        XCTAssertTrue(messages.contains { $0.contains("has 5 labels, the loaded model has 4") }, "\(messages)")
    }

    func testEditedLabelsFileIsAnError() throws {
        let folder = try copyOfFixtureExport(self)
        try write("daisy\ndandelion\nrose\nsunflower\ntulips\n", to: folder.appendingPathComponent("labels.txt"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        let messages = report.errors.map(\.message)
        XCTAssertEqual(messages.count, 2, "\(messages)")
        XCTAssertTrue(messages[0].hasPrefix("labels.txt: sha256"), messages[0])
        XCTAssertTrue(messages[1].contains("labels differ at index 4"), messages[1])
    }

    func testMissingLabelsFileIsAnError() throws {
        let folder = try copyOfFixtureExport(self)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("labels.txt"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        XCTAssertEqual(report.errors.count, 1)
        XCTAssertTrue(report.errors[0].message.contains("labels.txt is listed in the manifest but missing"))
        XCTAssertTrue(report.packageVerified)  // the other checks still ran
    }

    func testNoManifestIsOnlyAWarning() throws {
        let folder = try copyOfFixtureExport(self)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("manifest.json"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        XCTAssertEqual(report.errors, [])
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssertTrue(report.warnings[0].message.contains("no manifest.json"))
        XCTAssertNil(report.manifest)
    }

    func testBrokenManifestIsAnError() throws {
        let folder = try copyOfFixtureExport(self)
        try write("{\"schema_version\": 1}", to: folder.appendingPathComponent("manifest.json"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        XCTAssertEqual(report.errors.count, 1)
        XCTAssertTrue(report.errors[0].message.contains("not a valid flowers-mobile manifest"), report.errors[0].message)
    }

    func testPackageCompiledByXcodeIsAWarning() throws {
        let folder = try copyOfFixtureExport(self)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("Flowers.mlpackage"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels)
        XCTAssertEqual(report.errors, [])
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssertTrue(report.warnings[0].message.contains("sha256 was not checked"))
    }

    func testDigestCanBeSkipped() throws {
        let folder = try copyOfFixtureExport(self)
        try write("changed", to: folder.appendingPathComponent("Flowers.mlpackage/notes.txt"))
        let report = ModelFolderCheck.run(folder: folder, modelLabels: fixtureLabels, checkPackageDigest: false)
        XCTAssertTrue(report.isClean)
        XCTAssertFalse(report.packageVerified)
    }

    func testAKnownDigestIsUsedInsteadOfReadingThePackage() {
        let report = ModelFolderCheck.run(folder: fixtureExport, modelLabels: fixtureLabels,
                                          knownPackageDigest: String(repeating: "0", count: 64))
        XCTAssertFalse(report.packageVerified)
        XCTAssertTrue(report.errors.first?.message.contains("sha256 000000000000") == true, "\(report.errors)")
        let good = ModelFolderCheck.run(folder: fixtureExport, modelLabels: fixtureLabels,
                                        knownPackageDigest: "B757F7231DDADF2C3EE0329E00BEFE87830908CC4EDF51E7C910FF8E9608E696")
        XCTAssertTrue(good.packageVerified)
    }

    func testInvalidModelLabelsAreAnError() {
        let report = ModelFolderCheck.run(folder: fixtureExport, modelLabels: ["daisy", "daisy", "rose", "sunflower", "tulip"])
        XCTAssertTrue(report.errors.contains { $0.message.hasPrefix("the model's own labels are invalid") })
    }

    func testFindingDescription() {
        XCTAssertEqual(Finding(.warning, "x").description, "warning: x")
    }
}
