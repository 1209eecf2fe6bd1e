import Foundation
import XCTest
@testable import FlowersCore

/// The cases in tests/vectors/ that pytest and the Android app's JUnit suite check too: labels
/// files, manifests, smoothing and the confidence threshold, one truth for all three.
///
/// The folder is found from this file's path (the repository's tests/vectors), or from
/// FLOWERS_VECTORS when the package is built outside the repository.
let vectorsFolder: URL = {
    if let env = ProcessInfo.processInfo.environment["FLOWERS_VECTORS"], !env.isEmpty {
        return URL(fileURLWithPath: env)
    }
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<5 { url.deleteLastPathComponent() }  // FlowersCoreTests, Tests, FlowersCore, ios_app
    return url.appendingPathComponent("tests/vectors")
}()

private func vectors(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: vectorsFolder.appendingPathComponent(name))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], name)
}

private func cases(_ root: [String: Any]) throws -> [[String: Any]] {
    let list = try XCTUnwrap(root["cases"] as? [[String: Any]])
    XCTAssertFalse(list.isEmpty)
    return list
}

final class SharedVectorsTests: XCTestCase {
    func testLabelsFiles() throws {
        for item in try cases(vectors("labels.json")) {
            let file = try XCTUnwrap(item["file"] as? String)
            let data = try Data(contentsOf: vectorsFolder.appendingPathComponent(file))
            if let expected = item["labels"] as? [String] {
                XCTAssertEqual(try LabelsFile.parse(data, path: file), expected, file)
            } else {
                let fragment = try XCTUnwrap(item["error_contains"] as? String, file)
                XCTAssertThrowsError(try LabelsFile.parse(data, path: file), file) { error in
                    XCTAssertTrue("\(error)".contains(fragment), "\(file): \(error) lacks \(fragment)")
                }
            }
        }
    }

    func testManifests() throws {
        for item in try cases(vectors("manifests.json")) {
            let file = try XCTUnwrap(item["file"] as? String)
            let data = try Data(contentsOf: vectorsFolder.appendingPathComponent(file))
            if let rejectedBy = item["rejected_by"] as? [String] {
                let fragment = try XCTUnwrap(item["error_contains"] as? String)
                if rejectedBy.contains("swift") {
                    XCTAssertThrowsError(try ExportManifest.decode(data, path: file), file) { error in
                        XCTAssertTrue("\(error)".contains(fragment), "\(file): \(error) lacks \(fragment)")
                    }
                } else {
                    XCTAssertNoThrow(try ExportManifest.decode(data, path: file), file)
                }
                continue
            }
            let manifest = try ExportManifest.decode(data, path: file)
            XCTAssertEqual(manifest.modelName, item["model_name"] as? String, file)
            XCTAssertEqual(manifest.labels.count, item["labels_count"] as? Int, file)
            let defaults = try XCTUnwrap(item["default_for"] as? [String: String])
            for (platform, name) in defaults {
                XCTAssertEqual(manifest.defaultArtifact(for: platform)?.file, name, "\(file) \(platform)")
            }
            let expected = try XCTUnwrap(item["artifacts"] as? [[String: Any]])
            XCTAssertEqual(manifest.artifacts.count, expected.count, file)
            for (artifact, want) in zip(manifest.artifacts, expected) {
                XCTAssertEqual(artifact.file, want["file"] as? String)
                XCTAssertEqual(artifact.format, want["format"] as? String)
                XCTAssertEqual(artifact.precision, want["precision"] as? String)
                XCTAssertEqual(artifact.bytes, want["bytes"] as? Int)
                XCTAssertEqual(artifact.inputShape, want["input_shape"] as? [Int])
                XCTAssertEqual(artifact.inputDtype, want["input_dtype"] as? String)
                XCTAssertEqual(artifact.numLabels, want["num_labels"] as? Int)
            }
        }
    }

    func testSmoothing() throws {
        let root = try vectors("smoothing.json")
        let defaults = try XCTUnwrap(root["defaults"] as? [String: Double])
        let plain = ProbabilitySmoother()
        XCTAssertEqual(plain.halfLife * 1000, defaults["half_life_ms"] ?? -1, accuracy: 1e-9)
        XCTAssertEqual(plain.resetAfter * 1000, defaults["reset_after_ms"] ?? -1, accuracy: 1e-9)
        XCTAssertEqual(Double(plain.pruneBelow), defaults["drop_below"] ?? -1, accuracy: 1e-9)
        for item in try cases(root) {
            let name = try XCTUnwrap(item["name"] as? String)
            var smoother = ProbabilitySmoother(halfLife: try XCTUnwrap(item["half_life_ms"] as? Double) / 1000,
                                               resetAfter: try XCTUnwrap(item["reset_after_ms"] as? Double) / 1000)
            var out: [String: Float] = [:]
            for frame in try XCTUnwrap(item["frames"] as? [[String: Any]]) {
                let scores = try XCTUnwrap(frame["scores"] as? [String: Double]).mapValues { Float($0) }
                out = smoother.update(scores, at: try XCTUnwrap(frame["t_ms"] as? Double) / 1000)
            }
            let expected = try XCTUnwrap(item["expected"] as? [String: Double])
            XCTAssertEqual(Set(out.keys), Set(expected.keys), name)
            for (label, value) in expected {
                XCTAssertEqual(Double(out[label] ?? -1), value, accuracy: 1e-5, "\(name): \(label)")
            }
        }
    }

    func testThreshold() throws {
        let root = try vectors("threshold.json")
        let defaults = try XCTUnwrap(root["defaults"] as? [String: Double])
        let plain = ConfidencePolicy()
        XCTAssertEqual(Double(plain.threshold), defaults["threshold"] ?? -1, accuracy: 1e-6)
        XCTAssertEqual(Double(plain.hysteresis), defaults["hysteresis"] ?? -1, accuracy: 1e-6)
        XCTAssertEqual(Double(PredictionPipeline().k), defaults["top_k"] ?? -1)
        for item in try cases(root) {
            let name = try XCTUnwrap(item["name"] as? String)
            var policy = ConfidencePolicy(threshold: Float(try XCTUnwrap(item["threshold"] as? Double)),
                                          hysteresis: Float(try XCTUnwrap(item["hysteresis"] as? Double)))
            for (index, step) in try XCTUnwrap(item["steps"] as? [[String: Any]]).enumerated() {
                let scores = try XCTUnwrap(step["scores"] as? [String: Double]).mapValues { Float($0) }
                let state = policy.state(for: TopK.select(scores, k: 3))
                let want = step["confident"] as? String
                XCTAssertEqual(state.isConfident ? state.top.first?.label : nil, want, "\(name), step \(index)")
            }
        }
    }

    /// The names `flowers-mobile bundle` writes are the names FlowersCore looks for.
    func testBundleNames() throws {
        let names = try vectors("names.json")
        let artifacts = try XCTUnwrap(names["default_artifact"] as? [String: String])
        let folders = try XCTUnwrap(names["model_folder"] as? [String: String])
        XCTAssertEqual(ModelFolderCheck.packageName, artifacts[ModelFolderCheck.platform])
        XCTAssertEqual(ModelFolderCheck.folderName, folders["ios"].map { URL(fileURLWithPath: $0).lastPathComponent })
        XCTAssertEqual(ExportManifest.fileName, names["manifest"] as? String)
        XCTAssertEqual(LabelsFile.fileName, names["labels"] as? String)
    }
}
