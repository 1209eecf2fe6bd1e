import CoreML
import Foundation
import FlowersCore

/// A model ready to classify, and what the app shows about it.
///
/// `@unchecked Sendable`: every property is immutable after loading, and Core ML models are
/// safe to use for predictions from any thread.
struct LoadedModel: @unchecked Sendable, Identifiable {
    let id = UUID()
    let classifier: ImageClassifier
    /// From the model's classifier config, in output-index order.
    let labels: [String]
    /// Width × height the model's image input takes (Vision stretches each frame to it).
    let inputSize: CGSize
    let computeUnits: ComputeUnitsChoice
    let source: ModelSource
    /// The compiled model (`.mlmodelc`) the classifier was loaded from.
    let compiledURL: URL
    /// sha256 of `Model/Flowers.mlpackage`, when the app loaded the package (it is also the
    /// compiled-model cache key).
    let packageDigest: String?
    /// Milliseconds spent compiling the package at this launch; nil when a cached or
    /// Xcode-compiled model was used.
    let compileMs: Double?
    let loadMs: Double
    /// Free text from the model's metadata (author, version, description).
    let metadata: [String: String]
}

enum ModelLoadError: LocalizedError {
    case notAClassifier
    case noImageInput(inputs: [String])
    case compileFailed(String)
    case loadFailed(String)

    var errorDescription: String? {
        switch self {
        case .notAClassifier:
            return "The model has no class labels. Export it with `flowers-mobile convert --target coreml`, "
                + "which writes a classifier whose labels come with it."
        case let .noImageInput(inputs):
            return "The model takes no image input (inputs: \(inputs.joined(separator: ", "))); "
                + "the app needs the image classifier that `flowers-mobile convert --target coreml` writes."
        case let .compileFailed(reason):
            return "Core ML could not compile Model/\(ModelLocator.packageName): \(reason)"
        case let .loadFailed(reason):
            return "Core ML could not load the model: \(reason)"
        }
    }
}

enum ModelLoader {
    /// Compile (or take from the cache) and load the model found at `source`.
    ///
    /// Runs off the main thread: hashing and compiling read the whole package.
    ///
    /// - Parameters:
    ///   - source: where the model is (see `ModelLocator`).
    ///   - computeUnits: where Core ML may run it.
    ///   - previous: a model already loaded from the same source; its compiled copy is reused
    ///     when only the compute units change.
    static func load(_ source: ModelSource, computeUnits: ComputeUnitsChoice,
                     reusing previous: LoadedModel? = nil) async throws -> LoadedModel {
        let compiledURL: URL
        let digest: String?
        let compileMs: Double?
        if let previous, previous.source == source {
            compiledURL = previous.compiledURL
            digest = previous.packageDigest
            compileMs = nil
        } else {
            switch source {
            case let .compiledByXcode(url):
                compiledURL = url
                digest = nil
                compileMs = nil
            case let .package(packageURL):
                // One read of the package gives both the integrity check's digest and the cache key.
                let packageDigest = try ContentDigest.sha256(ofPath: packageURL)
                let start = Date()
                let cached = try await CompiledModelCache.compiledModel(for: packageURL, digest: packageDigest)
                compiledURL = cached.url
                digest = packageDigest
                compileMs = cached.compiledNow ? Date().timeIntervalSince(start) * 1000 : nil
            }
        }

        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits.mlComputeUnits
        let loadStart = Date()
        let model: MLModel
        do {
            model = try MLModel(contentsOf: compiledURL, configuration: configuration)
        } catch {
            throw ModelLoadError.loadFailed(error.localizedDescription)
        }
        let loadMs = Date().timeIntervalSince(loadStart) * 1000

        let description = model.modelDescription
        // Labels come from the model itself (its classifier config), never from a list in the app.
        guard let classLabels = description.classLabels, !classLabels.isEmpty else {
            throw ModelLoadError.notAClassifier
        }
        let labels = classLabels.map { "\($0)" }
        let imageInput = description.inputDescriptionsByName.values.first { $0.type == .image }
        guard let constraint = imageInput?.imageConstraint else {
            throw ModelLoadError.noImageInput(inputs: description.inputDescriptionsByName.keys.sorted())
        }
        let classifier = try ImageClassifier(model: model, labels: labels)
        return LoadedModel(
            classifier: classifier,
            labels: labels,
            inputSize: CGSize(width: constraint.pixelsWide, height: constraint.pixelsHigh),
            computeUnits: computeUnits,
            source: source,
            compiledURL: compiledURL,
            packageDigest: digest,
            compileMs: compileMs,
            loadMs: loadMs,
            metadata: metadataStrings(description)
        )
    }

    private static func metadataStrings(_ description: MLModelDescription) -> [String: String] {
        let keys: [(MLModelMetadataKey, String)] = [
            (.author, "Author"), (.versionString, "Version"), (.license, "License"), (.description, "Description"),
        ]
        var out: [String: String] = [:]
        for (key, title) in keys {
            if let value = description.metadata[key] as? String, !value.isEmpty {
                out[title] = value
            }
        }
        return out
    }
}

extension ComputeUnitsChoice {
    var mlComputeUnits: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuOnly: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        }
    }
}

/// Compiled models in Application Support, keyed by the package's sha256, so a model is
/// compiled once per content rather than at every launch, and a swapped model never reuses a
/// stale compiled copy.
enum CompiledModelCache {
    static func compiledModel(for package: URL, digest: String) async throws -> (url: URL, compiledNow: Bool) {
        let fileManager = FileManager.default
        var root = try fileManager.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                       appropriateFor: nil, create: true)
            .appendingPathComponent("CompiledModels", isDirectory: true)
        let destination = root.appendingPathComponent("\(digest).mlmodelc", isDirectory: true)
        if fileManager.fileExists(atPath: destination.path) {
            return (destination, false)
        }
        let temporary: URL
        do {
            temporary = try await MLModel.compileModel(at: package)
        } catch {
            throw ModelLoadError.compileFailed(error.localizedDescription)
        }
        try fileManager.createDirectory(at: root, withIntermediateDirectories: true)
        // Only the current model's compiled copy is worth keeping.
        for old in (try? fileManager.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)) ?? [] {
            try? fileManager.removeItem(at: old)
        }
        try fileManager.moveItem(at: temporary, to: destination)
        // It can be rebuilt from the app bundle at any time: keep it out of backups.
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? root.setResourceValues(values)
        return (destination, true)
    }
}
