import Foundation

/// What went wrong reading the model folder, in words the app can show as is:
/// what was wrong, where, and what to do.
public enum FlowersCoreError: Error, Sendable, Equatable, LocalizedError, CustomStringConvertible {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case notUTF8(path: String)
    case malformedManifest(path: String, reason: String)
    case unsupportedManifestSchema(path: String, found: Int, expected: Int)
    case invalidLabels(path: String, reason: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "\(path) not found; run `flowers-mobile bundle --platform ios` to put the model files in place"
        case let .unreadable(path, reason):
            return "\(path) could not be read (\(reason))"
        case let .notUTF8(path):
            return "\(path) is not UTF-8 text; write it again with `flowers-mobile bundle --platform ios`"
        case let .malformedManifest(path, reason):
            return "\(path) is not a valid flowers-mobile manifest (\(reason)); re-run `flowers-mobile convert`"
        case let .unsupportedManifestSchema(path, found, expected):
            return "\(path) has schema_version \(found), this app reads \(expected); "
                + "use a matching flowers-mobile version"
        case let .invalidLabels(path, reason):
            return "\(path): \(reason)"
        case let .invalidArgument(reason):
            return reason
        }
    }

    public var errorDescription: String? { description }
}

/// The bytes of the file at `url`, or `.fileNotFound` / `.unreadable` naming it.
func readFileData(_ url: URL) throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw FlowersCoreError.fileNotFound(path: url.path)
    }
    do {
        return try Data(contentsOf: url)
    } catch {
        throw FlowersCoreError.unreadable(path: url.path, reason: error.localizedDescription)
    }
}
