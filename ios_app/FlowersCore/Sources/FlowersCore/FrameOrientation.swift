import Foundation

/// The physical orientation of the phone, mirroring UIKit's `UIDeviceOrientation` cases so the
/// mapping below can be tested without UIKit.
public enum DeviceOrientation: Sendable, Equatable, CaseIterable {
    case unknown
    case portrait
    case portraitUpsideDown
    /// Home button (or the side without the Dynamic Island notch) on the right.
    case landscapeLeft
    /// Home button on the left.
    case landscapeRight
    case faceUp
    case faceDown
}

/// EXIF orientation values (the raw values of `CGImagePropertyOrientation`): how to turn the
/// stored pixels so they display upright.
public enum ExifOrientation: UInt32, Sendable, Equatable {
    case up = 1, upMirrored = 2, down = 3, downMirrored = 4
    case leftMirrored = 5, right = 6, rightMirrored = 7, left = 8
}

/// Which way up the back camera's frames are, for Vision.
///
/// The back camera's sensor delivers landscape buffers whatever the phone's orientation (the
/// native orientation is the phone held with the home button on the right). The app does not ask
/// the capture connection to rotate every buffer; it tells Vision how the buffer is oriented, and
/// Vision turns the image upright before stretching it to the model's input size. A phone lying
/// flat keeps the last upright orientation.
public struct FrameOrientationTracker: Sendable, Equatable {
    public private(set) var current: ExifOrientation

    /// Starts as portrait, the app's only interface orientation.
    public init(initial: ExifOrientation = .right) {
        current = initial
    }

    /// The orientation of back-camera buffers for a phone held in `device`; nil when the phone
    /// lies flat or the orientation is unknown (then nothing says which way is up).
    public static func backCamera(_ device: DeviceOrientation) -> ExifOrientation? {
        switch device {
        case .portrait: return .right
        case .portraitUpsideDown: return .left
        case .landscapeLeft: return .up
        case .landscapeRight: return .down
        case .unknown, .faceUp, .faceDown: return nil
        }
    }

    /// Follow the phone; returns the orientation now in effect.
    @discardableResult
    public mutating func update(_ device: DeviceOrientation) -> ExifOrientation {
        if let mapped = Self.backCamera(device) {
            current = mapped
        }
        return current
    }
}
