import Foundation
import FlowersCore
import SwiftUI

/// The app's state: which model is loaded (or why none is), the settings, and the two
/// classification screens' models.
@MainActor
final class AppModel: ObservableObject {
    enum Phase {
        case loading(String)
        /// The app was built without `Model/Flowers.mlpackage`.
        case missing(searchedFolder: String)
        case failed(String)
        case ready(LoadedModel)
    }

    private enum Keys {
        static let computeUnits = "computeUnits"
        static let threshold = "confidenceThreshold"
        // A new key: the old "smoothingSeconds" was a time constant, not a half-life.
        static let smoothing = "smoothingHalfLifeSeconds"
    }

    @Published private(set) var phase: Phase = .loading("Looking for the model…")
    /// What checking Model/ against manifest.json found; nil until the check has run.
    @Published private(set) var report: ModelFolderReport?
    @Published private(set) var isCheckingFiles = false

    /// Where Core ML runs the model; changing it reloads the model.
    @Published var computeUnits: ComputeUnitsChoice {
        didSet {
            guard computeUnits != oldValue else { return }
            UserDefaults.standard.set(computeUnits.rawValue, forKey: Keys.computeUnits)
            Task { await reload() }
        }
    }

    /// The smallest top-1 probability shown as an answer.
    @Published var threshold: Double {
        didSet {
            UserDefaults.standard.set(threshold, forKey: Keys.threshold)
            applySettings()
        }
    }

    /// Smoothing half-life in seconds (0: off): after it, an old frame counts half.
    @Published var smoothingSeconds: Double {
        didSet {
            UserDefaults.standard.set(smoothingSeconds, forKey: Keys.smoothing)
            applySettings()
        }
    }

    let live: LiveViewModel
    let photo: PhotoViewModel
    /// Each load gets a number; a slower, older load that finishes late is ignored.
    private var loadGeneration = 0

    init() {
        let defaults = UserDefaults.standard
        computeUnits = ComputeUnitsChoice(storedValue: defaults.string(forKey: Keys.computeUnits))
        threshold = defaults.object(forKey: Keys.threshold) as? Double ?? Double(ConfidencePolicy().threshold)
        smoothingSeconds = defaults.object(forKey: Keys.smoothing) as? Double ?? ProbabilitySmoother.defaultHalfLife
        live = LiveViewModel()
        photo = PhotoViewModel()
        applySettings()
    }

    /// Find the model in the bundle and load it, or say why not.
    func loadModel() async {
        guard let source = ModelLocator.locate() else {
            phase = .missing(searchedFolder: ModelLocator.modelFolder()?.path ?? ModelLocator.folderName)
            return
        }
        await load(source, reusing: nil)
    }

    /// Load the same model again with the current compute units.
    func reload() async {
        guard case let .ready(current) = phase else {
            await loadModel()
            return
        }
        await load(current.source, reusing: current)
    }

    private func load(_ source: ModelSource, reusing previous: LoadedModel?) async {
        loadGeneration += 1
        let generation = loadGeneration
        if previous == nil {
            if case .package = source {
                phase = .loading("Checking and compiling the model…")
            } else {
                phase = .loading("Loading the model…")
            }
        }
        let units = computeUnits
        do {
            // Hashing, compiling and loading read the whole model: keep them off the main thread.
            let loaded = try await Task.detached(priority: .userInitiated) {
                try await ModelLoader.load(source, computeUnits: units, reusing: previous)
            }.value
            guard generation == loadGeneration else { return }
            phase = .ready(loaded)
            live.use(loaded.classifier)
            photo.use(loaded.classifier)
            if previous == nil {
                await checkModelFolder(for: loaded)
            }
        } catch {
            guard generation == loadGeneration else { return }
            phase = .failed(error.localizedDescription)
        }
    }

    /// Check Model/ (package sha256, labels.txt, manifest.json) against the loaded model's labels.
    private func checkModelFolder(for model: LoadedModel) async {
        guard let folder = ModelLocator.modelFolder() else { return }
        isCheckingFiles = true
        let labels = model.labels
        let digest = model.packageDigest
        let report = await Task.detached(priority: .utility) {
            ModelFolderCheck.run(folder: folder, modelLabels: labels, knownPackageDigest: digest)
        }.value
        self.report = report
        isCheckingFiles = false
    }

    private func applySettings() {
        live.configure(threshold: threshold, smoothingSeconds: smoothingSeconds)
        photo.configure(threshold: threshold)
    }
}
