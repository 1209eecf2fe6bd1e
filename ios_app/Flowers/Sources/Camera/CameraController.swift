import AVFoundation
import Foundation
import FlowersCore
import ImageIO

/// One classified camera frame.
struct FrameResult: Sendable {
    let probabilities: [String: Float]
    let inferenceMs: Double
    /// The frame's presentation time in seconds (the capture clock: monotonic).
    let timestamp: TimeInterval
}

/// Owns the capture session and classifies frames as they arrive.
///
/// Threads: the session is configured, started and stopped on `sessionQueue` (startRunning
/// blocks); frames arrive on `frameQueue` and are classified there, synchronously. With
/// `alwaysDiscardsLateVideoFrames`, frames that arrive while one is being classified are
/// dropped, so the app always works on the newest frame and never builds a backlog: the frame
/// rate shown is the rate the model sustains. Shared state is guarded by `lock`.
final class CameraController: NSObject, @unchecked Sendable {
    enum SetupError: LocalizedError {
        case noCamera
        case cannotUseCamera(String)
        case cannotAddOutput

        var errorDescription: String? {
            switch self {
            case .noCamera: return "This device has no back camera (the Simulator has none): choose a photo instead."
            case let .cannotUseCamera(reason): return "The camera could not be opened: \(reason)"
            case .cannotAddOutput: return "The camera could not deliver video frames to the app."
            }
        }
    }

    let session = AVCaptureSession()
    private let sessionQueue = DispatchQueue(label: "flowers.camera.session")
    private let frameQueue = DispatchQueue(label: "flowers.camera.frames", qos: .userInitiated)
    private let videoOutput = AVCaptureVideoDataOutput()
    /// sessionQueue only.
    private var isConfigured = false

    private let lock = NSLock()
    private var classifier: ImageClassifier?
    private var orientation = FrameOrientationTracker()
    private var onResult: (@Sendable (Result<FrameResult, Error>) -> Void)?

    /// Runs `body` with `lock` held (NSLocking.withLock is not in every Foundation the
    /// Linux type-check runs against).
    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// The back wide-angle camera, if the device has one.
    static var backCamera: AVCaptureDevice? {
        AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back)
    }

    /// The classifier frames go to; nil pauses classification (the preview keeps running).
    func setClassifier(_ classifier: ImageClassifier?) {
        locked { self.classifier = classifier }
    }

    /// Where results go; called on the frame queue.
    func setResultHandler(_ handler: @escaping @Sendable (Result<FrameResult, Error>) -> Void) {
        locked { onResult = handler }
    }

    /// Follow the phone's physical orientation, so frames reach the model upright.
    func setDeviceOrientation(_ device: DeviceOrientation) {
        locked { _ = orientation.update(device) }
    }

    /// Configure the session once, then start it; `completion` gets nil or the setup error.
    func start(completion: @escaping @Sendable (Error?) -> Void) {
        sessionQueue.async { [self] in
            do {
                if !isConfigured {
                    try configure()
                    isConfigured = true
                }
                if !session.isRunning {
                    session.startRunning()
                }
                completion(nil)
            } catch {
                completion(error)
            }
        }
    }

    func stop() {
        sessionQueue.async { [self] in
            if session.isRunning {
                session.stopRunning()
            }
        }
    }

    private func configure() throws {
        guard let device = Self.backCamera else { throw SetupError.noCamera }
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        // 640×480 is far more than a 224×224 (or smaller) model needs, and small frames keep
        // Vision's conversion and stretch cheap.
        if session.canSetSessionPreset(.vga640x480) {
            session.sessionPreset = .vga640x480
        }
        let input: AVCaptureDeviceInput
        do {
            input = try AVCaptureDeviceInput(device: device)
        } catch {
            throw SetupError.cannotUseCamera(error.localizedDescription)
        }
        guard session.canAddInput(input) else { throw SetupError.cannotUseCamera("the session refused the camera input") }
        session.addInput(input)

        videoOutput.alwaysDiscardsLateVideoFrames = true
        videoOutput.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
        videoOutput.setSampleBufferDelegate(self, queue: frameQueue)
        guard session.canAddOutput(videoOutput) else { throw SetupError.cannotAddOutput }
        session.addOutput(videoOutput)
        // The buffers stay in the sensor's landscape orientation; Vision is told how to turn
        // them (see FrameOrientationTracker), which costs nothing per frame here.
    }
}

extension CameraController: AVCaptureVideoDataOutputSampleBufferDelegate {
    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let (classifier, exif, handler) = locked { (self.classifier, orientation.current, onResult) }
        guard let classifier, let handler else { return }
        let timestamp = CMSampleBufferGetPresentationTimeStamp(sampleBuffer).seconds
        let frameOrientation = CGImagePropertyOrientation(rawValue: exif.rawValue) ?? .right
        do {
            let output = try classifier.classify(pixelBuffer: pixelBuffer, orientation: frameOrientation)
            handler(.success(FrameResult(probabilities: output.probabilities, inferenceMs: output.inferenceMs,
                                         timestamp: timestamp)))
        } catch {
            handler(.failure(error))
        }
    }
}
