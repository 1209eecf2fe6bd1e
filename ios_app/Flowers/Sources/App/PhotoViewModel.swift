import Foundation
import FlowersCore
import ImageIO
import PhotosUI
import SwiftUI
import UIKit

/// The photo screen's state: the picked image and its predictions (no smoothing: one image).
@MainActor
final class PhotoViewModel: ObservableObject {
    @Published private(set) var image: UIImage?
    @Published private(set) var state: ClassificationState = .waiting
    @Published private(set) var latencyMs: Double?
    @Published private(set) var isWorking = false
    @Published private(set) var errorMessage: String?

    private var classifier: ImageClassifier?
    private var pipeline = PredictionPipeline()
    /// The last image's raw probabilities, so a new threshold applies without running the model again.
    private var lastProbabilities: [String: Float]?

    func use(_ classifier: ImageClassifier) {
        self.classifier = classifier
        if let image {
            Task { await classify(image) }
        }
    }

    func configure(threshold: Double) {
        pipeline.policy = ConfidencePolicy(threshold: Float(threshold))
        if let lastProbabilities {
            state = pipeline.process(still: lastProbabilities)
        }
    }

    /// Load a picked item and classify it.
    func load(_ item: PhotosPickerItem?) async {
        guard let item else { return }
        isWorking = true
        defer { isWorking = false }
        do {
            guard let data = try await item.loadTransferable(type: Data.self), let image = UIImage(data: data) else {
                errorMessage = "That item could not be read as an image."
                return
            }
            self.image = image
            await classify(image)
        } catch {
            errorMessage = "The photo could not be loaded: \(error.localizedDescription)"
        }
    }

    private func classify(_ image: UIImage) async {
        guard let classifier else { return }
        guard let cgImage = image.cgImage else {
            errorMessage = "That image has no bitmap the model can read."
            return
        }
        // Vision turns the photo upright using its EXIF orientation, then stretches it whole.
        let orientation = CGImagePropertyOrientation(image.imageOrientation)
        do {
            let output = try await Task.detached(priority: .userInitiated) {
                try classifier.classify(cgImage: cgImage, orientation: orientation)
            }.value
            lastProbabilities = output.probabilities
            latencyMs = output.inferenceMs
            state = pipeline.process(still: output.probabilities)
            errorMessage = nil
        } catch {
            errorMessage = error.localizedDescription
        }
    }
}
