import SwiftUI

/// The main screen once a model is loaded: live camera or a picked photo, and the settings.
struct ClassifierScreen: View {
    enum Mode: String, CaseIterable, Identifiable {
        case camera = "Camera"
        case photo = "Photo"

        var id: String { rawValue }
    }

    @EnvironmentObject private var app: AppModel
    let model: LoadedModel
    /// The Simulator has no camera: start on the photo picker there.
    @State private var mode: Mode = CameraController.backCamera == nil ? .photo : .camera
    @State private var showSettings = false

    var body: some View {
        NavigationStack {
            ZStack(alignment: .top) {
                switch mode {
                case .camera:
                    LiveCameraView(live: app.live, model: model) {
                        mode = .photo
                    }
                case .photo:
                    PhotoClassifierView(photo: app.photo)
                }
                FindingsBanner(report: app.report) {
                    showSettings = true
                }
            }
            .navigationTitle("Flowers")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .principal) {
                    Picker("Source", selection: $mode) {
                        ForEach(Mode.allCases) { option in
                            Text(option.rawValue).tag(option)
                        }
                    }
                    .pickerStyle(.segmented)
                    .frame(width: 200)
                }
                ToolbarItem(placement: .primaryAction) {
                    Button {
                        showSettings = true
                    } label: {
                        Image(systemName: "slider.horizontal.3")
                    }
                    .accessibilityLabel("Settings")
                }
            }
            .sheet(isPresented: $showSettings) {
                SettingsView(model: model)
                    .environmentObject(app)
            }
        }
    }
}
