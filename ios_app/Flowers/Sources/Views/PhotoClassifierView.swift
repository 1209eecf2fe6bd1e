import FlowersCore
import PhotosUI
import SwiftUI
import UIKit

/// Classify a photo from the library: the way to try the model in the Simulator, which has no
/// camera. The system photo picker runs outside the app, so no library permission is needed.
struct PhotoClassifierView: View {
    @ObservedObject var photo: PhotoViewModel
    @State private var selection: PhotosPickerItem?

    var body: some View {
        VStack(spacing: 16) {
            Spacer(minLength: 48)  // room for the findings banner
            if let image = photo.image {
                Image(uiImage: image)
                    .resizable()
                    .scaledToFit()
                    .clipShape(RoundedRectangle(cornerRadius: 12))
                    .frame(maxHeight: 340)
            } else {
                VStack(spacing: 12) {
                    Image(systemName: "photo.on.rectangle")
                        .font(.system(size: 44))
                        .foregroundColor(.secondary)
                    Text("Choose a photo of a flower. The whole photo is stretched to the model's input, "
                        + "as in training.")
                        .multilineTextAlignment(.center)
                        .foregroundColor(.secondary)
                }
                .frame(maxHeight: 340)
            }
            if photo.isWorking {
                ProgressView()
            }
            if let message = photo.errorMessage {
                Text(message)
                    .foregroundColor(.red)
                    .multilineTextAlignment(.center)
            }
            if photo.image != nil {
                PredictionPanel(state: photo.state, waitingText: "Classifying…")
                Text("Inference \(Formatting.milliseconds(photo.latencyMs))")
                    .font(.footnote.monospacedDigit())
                    .foregroundColor(.secondary)
            }
            Spacer()
            PhotosPicker(selection: $selection, matching: .images) {
                Label("Choose a photo", systemImage: "photo")
                    .frame(maxWidth: .infinity)
            }
            .buttonStyle(.borderedProminent)
            .controlSize(.large)
        }
        .padding()
        .task(id: selection) {
            await photo.load(selection)
        }
    }
}
