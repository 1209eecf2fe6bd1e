import CoreML
import Foundation
import ImageIO
import Vision

/// Runs the Core ML classifier through Vision, on camera frames and on photos.
///
/// Vision does the resizing, with `imageCropAndScaleOption = .scaleFill`: the whole frame is
/// stretched to the model's input size, the project's one resize rule (training, the TFLite Task
/// Library on Android and the parity checks all stretch the same way). A center crop would show
/// the model a different picture from the one it was trained and checked on.
///
/// `@unchecked Sendable`: the Vision model is immutable once made, and every call builds its
/// own request and handler, so nothing mutable is shared between threads.
final class ImageClassifier: @unchecked Sendable {
    struct Output: Sendable {
        /// Probability per label, for every class the model has.
        let probabilities: [String: Float]
        /// Wall time of the Vision request: conversion, stretch and inference, in milliseconds.
        let inferenceMs: Double
    }

    enum ClassifierError: LocalizedError {
        case unexpectedResults(String)

        var errorDescription: String? {
            switch self {
            case let .unexpectedResults(found):
                return "Vision returned \(found) instead of class probabilities; is this an image classifier?"
            }
        }
    }

    let labels: [String]
    private let visionModel: VNCoreMLModel

    init(model: MLModel, labels: [String]) throws {
        visionModel = try VNCoreMLModel(for: model)
        self.labels = labels
    }

    /// Classify a camera frame.
    ///
    /// - Parameters:
    ///   - pixelBuffer: the frame as the camera delivered it.
    ///   - orientation: how the buffer must be turned to be upright; Vision turns it before
    ///     stretching it to the model's input.
    func classify(pixelBuffer: CVPixelBuffer, orientation: CGImagePropertyOrientation) throws -> Output {
        try perform(VNImageRequestHandler(cvPixelBuffer: pixelBuffer, orientation: orientation, options: [:]))
    }

    /// Classify a still image (a photo from the library).
    func classify(cgImage: CGImage, orientation: CGImagePropertyOrientation) throws -> Output {
        try perform(VNImageRequestHandler(cgImage: cgImage, orientation: orientation, options: [:]))
    }

    private func perform(_ handler: VNImageRequestHandler) throws -> Output {
        // A request per call: cheap next to inference, and never shared between threads.
        let request = VNCoreMLRequest(model: visionModel)
        request.imageCropAndScaleOption = .scaleFill
        let start = DispatchTime.now().uptimeNanoseconds
        try handler.perform([request])
        let elapsedMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
        guard let observations = request.results as? [VNClassificationObservation] else {
            let found = request.results?.first.map { String(describing: type(of: $0)) } ?? "no results"
            throw ClassifierError.unexpectedResults(found)
        }
        var probabilities: [String: Float] = [:]
        probabilities.reserveCapacity(observations.count)
        for observation in observations {
            probabilities[observation.identifier] = observation.confidence
        }
        return Output(probabilities: probabilities, inferenceMs: elapsedMs)
    }
}
