import FlowersCore
import Foundation

/// Where the model comes from inside the app bundle.
enum ModelSource: Equatable {
    /// `Model/Flowers.mlpackage`, copied into the bundle as is (the project's `Model` folder
    /// reference) and compiled on the device at first launch.
    case package(URL)
    /// `Flowers.mlmodelc`, compiled by Xcode at build time: present when someone added the
    /// package to the target's Compile Sources instead (see README).
    case compiledByXcode(URL)

    var url: URL {
        switch self {
        case let .package(url), let .compiledByXcode(url): return url
        }
    }

    var summary: String {
        switch self {
        case .package: return "Model/\(ModelLocator.packageName), compiled on this device"
        case .compiledByXcode: return "\(ModelLocator.modelName).mlmodelc, compiled by Xcode"
        }
    }
}

/// Finds the model in the app bundle. Nothing about the model (its labels, input size, name of
/// its outputs) is assumed here: only the file name the bundle command writes.
enum ModelLocator {
    static let modelName = "Flowers"
    static let packageName = ModelFolderCheck.packageName
    /// The folder `flowers-mobile bundle --platform ios` fills: ios_app/Flowers/Model in the
    /// repository, `Model/` in the app bundle.
    static let folderName = ModelFolderCheck.folderName

    /// `Model/` inside the app bundle (it always exists: the repository keeps a README there).
    static func modelFolder(in bundle: Bundle = .main) -> URL? {
        bundle.resourceURL?.appendingPathComponent(folderName, isDirectory: true)
    }

    /// The model to load, or nil when the app was built without one.
    static func locate(in bundle: Bundle = .main) -> ModelSource? {
        // A model Xcode already compiled needs no work at launch, so it wins when both exist.
        if let compiled = bundle.url(forResource: modelName, withExtension: "mlmodelc") {
            return .compiledByXcode(compiled)
        }
        if let package = modelFolder(in: bundle)?.appendingPathComponent(packageName, isDirectory: true),
           FileManager.default.fileExists(atPath: package.path) {
            return .package(package)
        }
        return nil
    }
}
