import Foundation

/// One thing the model folder check found.
public struct Finding: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable, Equatable {
        /// The app can classify, but something cannot be vouched for.
        case warning
        /// The files contradict each other or the manifest: results may be wrong.
        case error
    }

    public var severity: Severity
    public var message: String

    public init(_ severity: Severity, _ message: String) {
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(severity.rawValue): \(message)" }
}

/// What `ModelFolderCheck.run` found about the model folder.
public struct ModelFolderReport: Sendable, Equatable {
    public var findings: [Finding] = []
    /// The manifest, when it was present and readable.
    public var manifest: ExportManifest?
    /// True when the package's sha256 was computed and matched the manifest.
    public var packageVerified = false

    public var errors: [Finding] { findings.filter { $0.severity == .error } }
    public var warnings: [Finding] { findings.filter { $0.severity == .warning } }
    /// Nothing to report at all.
    public var isClean: Bool { findings.isEmpty }
}

/// Checks the folder that `flowers-mobile bundle --platform ios` fills (`Flowers.mlpackage`,
/// `labels.txt`, `manifest.json`) against the labels the loaded model itself reports.
///
/// The app takes its labels from the model's classifier config; `labels.txt` and the manifest
/// are the export's record of what those labels and files should be. A difference means the
/// files were not bundled together (or were edited), so the app says so instead of showing
/// names it cannot vouch for.
public enum ModelFolderCheck {
    public static let platform = "ios"
    /// The model package `flowers-mobile bundle --platform ios` writes (tests/vectors/names.json).
    public static let packageName = "Flowers.mlpackage"
    /// The app bundle's folder that holds it, with labels.txt and manifest.json.
    public static let folderName = "Model"

    /// Run every check that the files present allow.
    ///
    /// - Parameters:
    ///   - folder: the model folder (in the app: `Model/` inside the app bundle).
    ///   - modelLabels: the labels from the model's classifier config, in output-index order.
    ///   - packageName: the package's folder name inside `folder`.
    ///   - checkPackageDigest: hash the package and compare with the manifest (reads every byte
    ///     of the package once; skip it where that is too slow).
    ///   - knownPackageDigest: the package's sha256 when the caller already computed it (the app
    ///     hashes the package once, for this check and as its compiled-model cache key).
    /// - Returns: the findings; never throws, because every problem is something to show.
    public static func run(folder: URL, modelLabels: [String], packageName: String = packageName,
                           checkPackageDigest: Bool = true, knownPackageDigest: String? = nil) -> ModelFolderReport {
        var report = ModelFolderReport()
        if let problem = validationProblem(modelLabels) {
            report.findings.append(Finding(.error, "the model's own labels are invalid: \(problem)"))
        }
        let manifestURL = folder.appendingPathComponent(ExportManifest.fileName)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            report.findings.append(Finding(.warning, "no \(ExportManifest.fileName) beside the model, so the model "
                + "files cannot be checked; run `flowers-mobile bundle --platform ios`"))
            return report
        }
        let manifest: ExportManifest
        do {
            manifest = try ExportManifest.read(manifestURL)
        } catch {
            report.findings.append(Finding(.error, "\(error)"))
            return report
        }
        report.manifest = manifest

        checkLabels(folder: folder, manifest: manifest, modelLabels: modelLabels, into: &report)
        checkArtifact(folder: folder, manifest: manifest, modelLabels: modelLabels, packageName: packageName,
                      checkPackageDigest: checkPackageDigest, knownPackageDigest: knownPackageDigest, into: &report)
        return report
    }

    private static func validationProblem(_ labels: [String]) -> String? {
        do {
            try LabelsFile.validate(labels, path: "classifier config")
            return nil
        } catch {
            return "\(error)"
        }
    }

    private static func checkLabels(folder: URL, manifest: ExportManifest, modelLabels: [String],
                                    into report: inout ModelFolderReport) {
        let labelsURL = folder.appendingPathComponent(manifest.labels.file)
        guard FileManager.default.fileExists(atPath: labelsURL.path) else {
            report.findings.append(Finding(.error, "\(manifest.labels.file) is listed in the manifest but missing; "
                + "run `flowers-mobile bundle --platform ios`"))
            return
        }
        do {
            let digest = try ContentDigest.sha256(ofFile: labelsURL)
            if digest != manifest.labels.sha256.lowercased() {
                report.findings.append(Finding(.error, "\(manifest.labels.file): sha256 \(digest.prefix(12))… does not "
                    + "match the manifest's \(manifest.labels.sha256.prefix(12))… (edited or from another export)"))
            }
            let fileLabels = try LabelsFile.read(labelsURL)
            if fileLabels.count != manifest.labels.count {
                report.findings.append(Finding(.error, "\(manifest.labels.file) has \(fileLabels.count) labels, "
                    + "the manifest says \(manifest.labels.count)"))
            }
            if let mismatch = LabelMismatch.compare(model: modelLabels, file: fileLabels) {
                report.findings.append(Finding(.error, "\(mismatch)"))
            }
        } catch {
            report.findings.append(Finding(.error, "\(error)"))
        }
    }

    private static func checkArtifact(folder: URL, manifest: ExportManifest, modelLabels: [String],
                                      packageName: String, checkPackageDigest: Bool, knownPackageDigest: String?,
                                      into report: inout ModelFolderReport) {
        guard let artifact = manifest.defaultArtifact(for: platform) else {
            report.findings.append(Finding(.error, "the manifest lists no Core ML package for iOS; "
                + "run `flowers-mobile convert --target coreml`"))
            return
        }
        if artifact.numLabels != modelLabels.count {
            report.findings.append(Finding(.error, "the manifest's \(artifact.file) has \(artifact.numLabels) labels, "
                + "the loaded model has \(modelLabels.count)"))
        }
        let packageURL = folder.appendingPathComponent(packageName)
        guard FileManager.default.fileExists(atPath: packageURL.path) else {
            report.findings.append(Finding(.warning, "\(packageName) is not in the model folder (a model compiled "
                + "by Xcode is in use?), so its sha256 was not checked"))
            return
        }
        guard checkPackageDigest else { return }
        do {
            let digest = try knownPackageDigest?.lowercased() ?? ContentDigest.sha256(ofPath: packageURL)
            if digest == artifact.sha256.lowercased() {
                report.packageVerified = true
            } else {
                report.findings.append(Finding(.error, "\(packageName): sha256 \(digest.prefix(12))… does not match the "
                    + "manifest's \(artifact.sha256.prefix(12))… (tampered, truncated or from another export); "
                    + "run `flowers-mobile bundle --platform ios` again"))
            }
        } catch {
            report.findings.append(Finding(.error, "\(error)"))
        }
    }
}
