import Foundation
import XCTest
@testable import FlowersCore

final class ContentDigestTests: XCTestCase {
    /// The manifest's sha256 values were computed by Python's `fsutil.sha256_path`: the Swift
    /// digest of the same package folder must be the same string.
    func testPackageFolderDigestMatchesPython() throws {
        let manifest = try ExportManifest.read(fixtureExport.appendingPathComponent("manifest.json"))
        let package = try XCTUnwrap(manifest.defaultArtifact(for: "ios"))
        let digest = try ContentDigest.sha256(ofPath: fixtureExport.appendingPathComponent(package.file))
        XCTAssertEqual(digest, package.sha256)
        XCTAssertEqual(digest, "b757f7231ddadf2c3ee0329e00befe87830908cc4edf51e7c910ff8e9608e696")
    }

    func testFileDigestMatchesPython() throws {
        let manifest = try ExportManifest.read(fixtureExport.appendingPathComponent("manifest.json"))
        XCTAssertEqual(try ContentDigest.sha256(ofPath: fixtureExport.appendingPathComponent("labels.txt")),
                       manifest.labels.sha256)
        let tflite = try XCTUnwrap(manifest.defaultArtifact(for: "android"))
        XCTAssertEqual(try ContentDigest.sha256(ofFile: fixtureExport.appendingPathComponent(tflite.file)), tflite.sha256)
    }

    /// The fixture holds "Data/…" and "Data.txt": Python's component order puts "Data/…" first,
    /// plain string order would not. Hashing in string order must give a different digest, so
    /// the test above really pins the order down.
    func testOrderIsByComponentsNotByJoinedString() throws {
        let root = fixtureExport.appendingPathComponent("Flowers.mlpackage")
        let files = try ContentDigest.regularFiles(under: root).map { $0.joined(separator: "/") }
        XCTAssertEqual(files, [
            "Data/com.apple.CoreML/model.mlmodel",
            "Data/com.apple.CoreML/weights/weight.bin",
            "Data.txt",
            "Manifest.json",
            "notes.txt",
        ])
        var naive = SHA256()
        for file in files.sorted() {
            naive.update(Data(file.utf8) + Data([0]))
            naive.update(Data(try ContentDigest.sha256(ofFile: root.appendingPathComponent(file)).utf8))
        }
        XCTAssertNotEqual(naive.finalize().hex, try ContentDigest.sha256(ofPath: root))
    }

    func testPathOrderingRules() {
        XCTAssertTrue(ContentDigest.pathPrecedes(["a", "b"], ["a.txt"]))
        XCTAssertTrue(ContentDigest.pathPrecedes(["B"], ["a"]))  // code points: uppercase first
        XCTAssertTrue(ContentDigest.pathPrecedes(["a"], ["a", "b"]))  // a prefix first
        XCTAssertFalse(ContentDigest.pathPrecedes(["a"], ["a"]))
        XCTAssertTrue(ContentDigest.pathPrecedes(["z"], ["\u{e9}"]))  // é (U+00E9) after z
    }

    func testChangingOneByteChangesTheDigest() throws {
        let export = try copyOfFixtureExport(self)
        let package = export.appendingPathComponent("Flowers.mlpackage")
        let before = try ContentDigest.sha256(ofPath: package)
        let weights = package.appendingPathComponent("Data/com.apple.CoreML/weights/weight.bin")
        var bytes = try Data(contentsOf: weights)
        bytes[0] ^= 0x01
        try bytes.write(to: weights)
        XCTAssertNotEqual(try ContentDigest.sha256(ofPath: package), before)
    }

    func testRenamingAFileChangesTheDigest() throws {
        let export = try copyOfFixtureExport(self)
        let package = export.appendingPathComponent("Flowers.mlpackage")
        let before = try ContentDigest.sha256(ofPath: package)
        try FileManager.default.moveItem(at: package.appendingPathComponent("notes.txt"),
                                         to: package.appendingPathComponent("notes2.txt"))
        XCTAssertNotEqual(try ContentDigest.sha256(ofPath: package), before)
    }

    /// Python's rglob does not descend into linked folders and hashes linked files by content;
    /// expected value from `fsutil.sha256_path` on the same layout.
    func testSymlinksFollowPythonRules() throws {
        let root = try makeTemporaryFolder(self)
        let package = root.appendingPathComponent("pkg")
        try write("hi\n", to: package.appendingPathComponent("real/f.txt"))
        try write("out\n", to: root.appendingPathComponent("outside/o.txt"))
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: package.appendingPathComponent("linkdir").path, withDestinationPath: "../outside")
        try fm.createSymbolicLink(atPath: package.appendingPathComponent("linkfile").path, withDestinationPath: "real/f.txt")
        XCTAssertEqual(try ContentDigest.sha256(ofPath: package),
                       "828eb9dc99cd2aab9f5a3a63a086b7d82519616fb47d25990fbf025abc04f617")
    }

    func testMissingPathIsFileNotFound() {
        let missing = fixtureExport.appendingPathComponent("Nope.mlpackage")
        XCTAssertThrowsError(try ContentDigest.sha256(ofPath: missing)) { error in
            XCTAssertEqual(error as? FlowersCoreError, .fileNotFound(path: missing.path))
            XCTAssertTrue("\(error)".contains("flowers-mobile bundle --platform ios"))
        }
    }

    func testEmptyFolderHasTheDigestOfNothing() throws {
        let folder = try makeTemporaryFolder(self)
        XCTAssertEqual(try ContentDigest.sha256(ofPath: folder), SHA256.hash(Data()).hex)
    }
}
