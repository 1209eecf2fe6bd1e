import SwiftUI

/// Chooses the screen from the model's state: loading, missing, failed, or ready to classify.
struct RootView: View {
    @EnvironmentObject private var app: AppModel

    var body: some View {
        switch app.phase {
        case let .loading(message):
            ProgressView(message)
                .padding()
        case let .missing(searchedFolder):
            MissingModelView(searchedFolder: searchedFolder)
        case let .failed(message):
            ModelErrorView(message: message) {
                Task { await app.loadModel() }
            }
        case let .ready(model):
            ClassifierScreen(model: model)
        }
    }
}

/// The model is there but Core ML or Vision refused it.
struct ModelErrorView: View {
    let message: String
    let retry: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Image(systemName: "exclamationmark.triangle")
                .font(.system(size: 44))
                .foregroundColor(.orange)
            Text("The model could not be loaded")
                .font(.title2.bold())
            Text(message)
                .multilineTextAlignment(.center)
                .textSelection(.enabled)
            Text("Export it again with `flowers-mobile convert --target coreml`, then run "
                + "`flowers-mobile bundle --platform ios` and rebuild.")
                .font(.footnote)
                .foregroundColor(.secondary)
                .multilineTextAlignment(.center)
            Button("Try again", action: retry)
                .buttonStyle(.borderedProminent)
        }
        .padding()
    }
}
