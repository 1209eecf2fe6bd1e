import FlowersCore
import SwiftUI

/// A capsule over the preview when checking Model/ against manifest.json found something.
struct FindingsBanner: View {
    let report: ModelFolderReport?
    let action: () -> Void

    var body: some View {
        if let report, !report.isClean {
            let hasErrors = !report.errors.isEmpty
            let title: String = hasErrors ? "The model files do not match their manifest" : "Notes about the model files"
            Button(action: action) {
                Label(title, systemImage: hasErrors ? "exclamationmark.triangle.fill" : "info.circle")
                    .font(.footnote.bold())
                    .foregroundColor(hasErrors ? Color.white : Color.black)
                    .padding(.horizontal, 12)
                    .padding(.vertical, 8)
                    .background(hasErrors ? Color.red : Color.yellow, in: Capsule())
            }
            .padding(.top, 8)
            .accessibilityHint("Shows the details in Settings")
        }
    }
}

/// The model folder check's results, for the settings sheet.
struct FindingsList: View {
    let report: ModelFolderReport?
    let isChecking: Bool

    var body: some View {
        if isChecking {
            HStack(spacing: 8) {
                ProgressView()
                Text("Checking against manifest.json…")
            }
        } else if let report {
            if report.isClean {
                let summary: String = report.packageVerified
                    ? "Flowers.mlpackage, labels.txt and manifest.json agree (sha256 and labels checked)"
                    : "No problems found"
                Label(summary, systemImage: "checkmark.seal")
            }
            ForEach(report.findings.indices, id: \.self) { index in
                let finding = report.findings[index]
                Label(finding.message,
                      systemImage: finding.severity == .error ? "xmark.octagon" : "exclamationmark.circle")
                    .foregroundColor(finding.severity == .error ? Color.red : Color.orange)
                    .textSelection(.enabled)
            }
        } else {
            Text("Not checked yet")
                .foregroundColor(.secondary)
        }
    }
}
