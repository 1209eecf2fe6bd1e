import AVFoundation
import Combine
import Foundation
import FlowersCore
import UIKit

/// The live camera screen's state: camera permission, the smoothed predictions, the meters.
@MainActor
final class LiveViewModel: ObservableObject {
    enum CameraStatus: Equatable {
        case idle
        /// Not asked yet: the app explains why before the system asks.
        case needsPermission
        case denied
        case restricted
        /// No back camera (the Simulator): the photo picker is the way in.
        case unavailable
        case starting
        case running
        case failed(String)
    }

    @Published private(set) var status: CameraStatus = .idle
    @Published private(set) var state: ClassificationState = .waiting
    @Published private(set) var framesPerSecond: Double?
    @Published private(set) var latencyMs: Double?
    @Published private(set) var frameError: String?

    let camera = CameraController()
    private var pipeline = PredictionPipeline()
    private var meter = RateMeter()

    init() {
        camera.setResultHandler { [weak self] result in
            self?.deliver(result)
        }
    }

    func use(_ classifier: ImageClassifier) {
        camera.setClassifier(classifier)
        resetMeasurements()
    }

    func configure(threshold: Double, smoothingSeconds: Double) {
        pipeline.policy = ConfidencePolicy(threshold: Float(threshold))
        pipeline.smoother.halfLife = max(0, smoothingSeconds)
    }

    /// Start the camera if allowed; otherwise set the status the permission screens show.
    func start() {
        guard CameraController.backCamera != nil else {
            status = .unavailable
            return
        }
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized: startSession()
        case .notDetermined: status = .needsPermission
        case .denied: status = .denied
        case .restricted: status = .restricted
        @unknown default: status = .denied
        }
    }

    /// Show the system's camera prompt (after the app's own explanation).
    func requestPermission() async {
        if await AVCaptureDevice.requestAccess(for: .video) {
            startSession()
        } else {
            status = .denied
        }
    }

    func stop() {
        camera.stop()
        if status == .running || status == .starting {
            status = .idle
        }
        resetMeasurements()
    }

    func updateOrientation(_ orientation: UIDeviceOrientation) {
        camera.setDeviceOrientation(DeviceOrientation(orientation))
    }

    private func startSession() {
        status = .starting
        camera.start { [weak self] error in
            self?.sessionStarted(error: error)
        }
    }

    private func resetMeasurements() {
        pipeline.reset()
        meter.reset()
        state = .waiting
        framesPerSecond = nil
        latencyMs = nil
    }

    // Called on the camera's queues; hop to the main actor.
    nonisolated private func sessionStarted(error: Error?) {
        let message = error?.localizedDescription
        Task { @MainActor in
            if let message {
                self.status = .failed(message)
            } else {
                self.status = .running
            }
        }
    }

    nonisolated private func deliver(_ result: Result<FrameResult, Error>) {
        Task { @MainActor in
            self.handle(result)
        }
    }

    private func handle(_ result: Result<FrameResult, Error>) {
        switch result {
        case let .success(frame):
            meter.record(at: frame.timestamp, latencyMs: frame.inferenceMs)
            state = pipeline.process(frame: frame.probabilities, at: frame.timestamp)
            framesPerSecond = meter.framesPerSecond
            latencyMs = meter.meanLatencyMs
            frameError = nil
        case let .failure(error):
            frameError = error.localizedDescription
        }
    }
}
