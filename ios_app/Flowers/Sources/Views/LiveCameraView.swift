import FlowersCore
import Foundation
import SwiftUI
import UIKit

/// The camera preview with the top predictions, inference time and frame rate over it, or the
/// screen that stands in for it (permission, no camera, failure).
struct LiveCameraView: View {
    @ObservedObject var live: LiveViewModel
    let model: LoadedModel
    /// Switches to the photo picker (offered when there is no camera).
    let choosePhoto: () -> Void
    @Environment(\.openURL) private var openURL

    var body: some View {
        ZStack {
            Color.black.ignoresSafeArea()
            content
        }
        .onAppear {
            UIDevice.current.beginGeneratingDeviceOrientationNotifications()
            live.updateOrientation(UIDevice.current.orientation)
            live.start()
        }
        .onDisappear {
            live.stop()
            UIDevice.current.endGeneratingDeviceOrientationNotifications()
        }
        .onReceive(NotificationCenter.default.publisher(for: UIDevice.orientationDidChangeNotification)) { _ in
            live.updateOrientation(UIDevice.current.orientation)
        }
    }

    @ViewBuilder
    private var content: some View {
        switch live.status {
        case .running, .starting, .idle:
            CameraPreview(session: live.camera.session)
                .ignoresSafeArea()
            VStack(spacing: 8) {
                Spacer()
                StatsBar(latencyMs: live.latencyMs, framesPerSecond: live.framesPerSecond, model: model)
                if let error = live.frameError {
                    Text(error)
                        .font(.footnote)
                        .foregroundColor(.red)
                }
                PredictionPanel(state: live.state, waitingText: "Point the camera at a flower")
            }
            .padding()
        case .needsPermission:
            CameraAccessView(
                title: "Camera access",
                message: "Flowers names the flower in front of the camera. The frames are classified "
                    + "on this device and never leave it.",
                buttonTitle: "Allow camera"
            ) {
                Task { await live.requestPermission() }
            }
        case .denied:
            CameraAccessView(
                title: "Camera access is off",
                message: "Turn on Camera for Flowers in Settings, or classify a photo instead.",
                buttonTitle: "Open Settings"
            ) {
                if let url = URL(string: UIApplication.openSettingsURLString) {
                    openURL(url)
                }
            }
        case .restricted:
            CameraAccessView(
                title: "Camera restricted",
                message: "This device's restrictions do not allow camera use. Classify a photo instead.",
                buttonTitle: "Choose a photo",
                action: choosePhoto
            )
        case .unavailable:
            CameraAccessView(
                title: "No camera",
                message: "This device has no back camera (the Simulator has none). Classify a photo instead.",
                buttonTitle: "Choose a photo",
                action: choosePhoto
            )
        case let .failed(message):
            CameraAccessView(title: "The camera did not start", message: message,
                             buttonTitle: "Try again") {
                live.start()
            }
        }
    }
}

/// Inference time, frame rate, compute units and input size, in one line.
struct StatsBar: View {
    let latencyMs: Double?
    let framesPerSecond: Double?
    let model: LoadedModel

    var body: some View {
        HStack(spacing: 12) {
            Label(Formatting.milliseconds(latencyMs), systemImage: "timer")
            Label(Formatting.framesPerSecond(framesPerSecond), systemImage: "speedometer")
            Label(model.computeUnits.shortTitle, systemImage: "cpu")
            Text("\(Int(model.inputSize.width))×\(Int(model.inputSize.height))")
        }
        .font(.caption.monospacedDigit())
        .foregroundColor(.white)
        .padding(.horizontal, 10)
        .padding(.vertical, 6)
        .background(Color.black.opacity(0.55), in: Capsule())
        .accessibilityElement(children: .combine)
    }
}

/// Explains a camera problem and offers the one useful action.
struct CameraAccessView: View {
    let title: String
    let message: String
    let buttonTitle: String
    let action: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Image(systemName: "camera")
                .font(.system(size: 44))
            Text(title)
                .font(.title2.bold())
            Text(message)
                .multilineTextAlignment(.center)
            Button(buttonTitle, action: action)
                .buttonStyle(.borderedProminent)
        }
        .foregroundColor(.white)
        .padding(32)
    }
}
