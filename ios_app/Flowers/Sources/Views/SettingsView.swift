import FlowersCore
import SwiftUI

/// Compute units, threshold and smoothing; what the model is and whether its files check out.
struct SettingsView: View {
    @EnvironmentObject private var app: AppModel
    let model: LoadedModel
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Picker("Compute units", selection: $app.computeUnits) {
                        ForEach(ComputeUnitsChoice.allCases) { choice in
                            Text(choice.title).tag(choice)
                        }
                    }
                } header: {
                    Text("Core ML")
                } footer: {
                    Text("“All” lets Core ML use the Neural Engine; compare its inference time with "
                        + "“CPU only”. Changing this reloads the model.")
                }

                Section {
                    VStack(alignment: .leading) {
                        Text("Confidence threshold: \(Formatting.percent(Float(app.threshold)))")
                        Slider(value: $app.threshold, in: 0.1...0.95, step: 0.05)
                    }
                    VStack(alignment: .leading) {
                        Text("Smoothing: \(smoothingText)")
                        Slider(value: $app.smoothingSeconds, in: 0...1, step: 0.05)
                    }
                } header: {
                    Text("Predictions")
                } footer: {
                    Text("Below the threshold the app says “No confident prediction”. Smoothing is a half-life: "
                        + "after this many seconds an old frame counts half, whatever the frame rate.")
                }

                Section("Model") {
                    LabeledContent("Classes", value: "\(model.labels.count)")
                    LabeledContent("Input", value: "\(Int(model.inputSize.width))×\(Int(model.inputSize.height)), whole frame stretched")
                    LabeledContent("Source", value: model.source.summary)
                    if let compileMs = model.compileMs {
                        LabeledContent("Compiled in", value: Formatting.milliseconds(compileMs))
                    }
                    LabeledContent("Loaded in", value: Formatting.milliseconds(model.loadMs))
                    if let digest = model.packageDigest {
                        LabeledContent("sha256", value: String(digest.prefix(16)) + "…")
                    }
                    ForEach(model.metadata.keys.sorted(), id: \.self) { key in
                        LabeledContent(key, value: model.metadata[key] ?? "")
                    }
                }

                Section("Model files") {
                    FindingsList(report: app.report, isChecking: app.isCheckingFiles)
                }

                Section("Labels, from the model's classifier config") {
                    ForEach(model.labels.indices, id: \.self) { index in
                        HStack {
                            Text("\(index)")
                                .monospacedDigit()
                                .foregroundColor(.secondary)
                                .frame(minWidth: 28, alignment: .trailing)
                            Text(model.labels[index])
                        }
                    }
                }
            }
            .navigationTitle("Settings")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .confirmationAction) {
                    Button("Done") { dismiss() }
                }
            }
        }
    }

    private var smoothingText: String {
        app.smoothingSeconds < 0.001 ? "off" : String(format: "%.2f s", app.smoothingSeconds)
    }
}
