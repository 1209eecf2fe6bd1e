import AVFoundation
import SwiftUI
import UIKit

/// The live camera picture, letterboxed rather than cropped (`.resizeAspect`): the model sees
/// the whole frame (stretched to its input), so the preview shows the whole frame too.
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        view.backgroundColor = .black
        view.previewLayer.session = session
        view.previewLayer.videoGravity = .resizeAspect
        return view
    }

    func updateUIView(_ uiView: PreviewView, context: Context) {}

    /// A view whose backing layer is the capture preview layer, so it resizes with the view.
    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }

        var previewLayer: AVCaptureVideoPreviewLayer {
            // layerClass above makes this cast always succeed.
            layer as! AVCaptureVideoPreviewLayer
        }
    }
}
