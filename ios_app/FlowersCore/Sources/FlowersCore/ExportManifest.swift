import Foundation

/// `manifest.json`, the artifact contract written by `flowers-mobile convert` and copied beside
/// the model by `flowers-mobile bundle` (see `flowers_mobile.export.manifest`).
///
/// Only the fields the app checks are decoded; the free-form ones (`export_config`, `parity`)
/// are left alone, so a newer manifest with more fields still reads.
public struct ExportManifest: Codable, Sendable, Equatable {
    /// The schema this app reads.
    public static let supportedSchemaVersion = 1
    public static let fileName = "manifest.json"

    public var schemaVersion: Int
    public var created: String?
    public var modelName: String
    public var sourceModel: FileEntry
    public var labels: LabelsEntry
    public var tools: [String: String]?
    public var artifacts: [Artifact]

    public struct FileEntry: Codable, Sendable, Equatable {
        public var file: String
        public var sha256: String
    }

    public struct LabelsEntry: Codable, Sendable, Equatable {
        public var file: String
        public var sha256: String
        public var count: Int
    }

    /// Scale and zero point of a quantized tensor (`real = scale * (q - zeroPoint)`).
    public struct Quantization: Codable, Sendable, Equatable {
        public var scale: Double
        public var zeroPoint: Double

        enum CodingKeys: String, CodingKey {
            case scale
            case zeroPoint = "zero_point"
        }
    }

    public struct Artifact: Codable, Sendable, Equatable {
        /// Relative to the export folder, e.g. "Flowers.mlpackage".
        public var file: String
        /// "tflite" | "mlpackage" | "saved_model".
        public var format: String
        public var precision: String
        public var bytes: Int
        public var sha256: String
        public var inputShape: [Int]
        public var inputDtype: String
        public var numLabels: Int
        public var inputQuantization: Quantization?
        public var outputDtype: String?
        public var outputQuantization: Quantization?
        /// Platforms that take this file as their default ("android", "ios").
        public var defaultFor: [String]?

        enum CodingKeys: String, CodingKey {
            case file, format, precision, bytes, sha256
            case inputShape = "input_shape"
            case inputDtype = "input_dtype"
            case numLabels = "num_labels"
            case inputQuantization = "input_quantization"
            case outputDtype = "output_dtype"
            case outputQuantization = "output_quantization"
            case defaultFor = "default_for"
        }
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case created
        case modelName = "model_name"
        case sourceModel = "source_model"
        case labels, tools, artifacts
    }

    /// The artifact a platform takes as its default: the one whose `default_for` names it, else
    /// (older manifests) the first of the platform's format.
    ///
    /// - Parameter platform: "ios" or "android".
    public func defaultArtifact(for platform: String) -> Artifact? {
        if let marked = artifacts.first(where: { $0.defaultFor?.contains(platform) == true }) {
            return marked
        }
        let formats = ["ios": "mlpackage", "android": "tflite"]
        guard let format = formats[platform] else { return nil }
        return artifacts.first(where: { $0.format == format })
    }

    /// Decode and check the schema version.
    ///
    /// - Throws: `FlowersCoreError.malformedManifest` or `.unsupportedManifestSchema`.
    public static func decode(_ data: Data, path: String = fileName) throws -> ExportManifest {
        // Read the version first: a manifest from another schema should say so, not fail on
        // whichever field changed.
        struct Version: Decodable {
            let schemaVersion: Int?
            enum CodingKeys: String, CodingKey { case schemaVersion = "schema_version" }
        }
        let decoder = JSONDecoder()
        let version: Version
        do {
            version = try decoder.decode(Version.self, from: data)
        } catch {
            throw FlowersCoreError.malformedManifest(path: path, reason: describe(error))
        }
        guard let found = version.schemaVersion else {
            throw FlowersCoreError.malformedManifest(path: path, reason: "no schema_version")
        }
        guard found == supportedSchemaVersion else {
            throw FlowersCoreError.unsupportedManifestSchema(path: path, found: found, expected: supportedSchemaVersion)
        }
        do {
            return try decoder.decode(ExportManifest.self, from: data)
        } catch {
            throw FlowersCoreError.malformedManifest(path: path, reason: describe(error))
        }
    }

    /// Read `manifest.json` from disk.
    public static func read(_ url: URL) throws -> ExportManifest {
        return try decode(readFileData(url), path: url.path)
    }

    /// A short reason from a DecodingError: which key, and what was wrong with it.
    private static func describe(_ error: Error) -> String {
        func keyPath(_ path: [CodingKey]) -> String {
            let joined = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return joined.hasPrefix(".") ? String(joined.dropFirst()) : joined
        }
        switch error as? DecodingError {
        case let .keyNotFound(key, context)?:
            return "missing key \(keyPath(context.codingPath + [key]))"
        case let .typeMismatch(type, context)?:
            return "\(keyPath(context.codingPath)) should be \(type)"
        case let .valueNotFound(type, context)?:
            return "\(keyPath(context.codingPath)) is null, expected \(type)"
        case let .dataCorrupted(context)?:
            return context.codingPath.isEmpty ? "not JSON" : "\(keyPath(context.codingPath)) is invalid"
        default:
            return error.localizedDescription
        }
    }
}
