import FlowersCore
import ImageIO
import UIKit

extension DeviceOrientation {
    /// FlowersCore's mirror of UIKit's orientation (FlowersCore has no UIKit, so it can be tested on Linux).
    init(_ orientation: UIDeviceOrientation) {
        switch orientation {
        case .portrait: self = .portrait
        case .portraitUpsideDown: self = .portraitUpsideDown
        case .landscapeLeft: self = .landscapeLeft
        case .landscapeRight: self = .landscapeRight
        case .faceUp: self = .faceUp
        case .faceDown: self = .faceDown
        case .unknown: self = .unknown
        @unknown default: self = .unknown
        }
    }
}

extension CGImagePropertyOrientation {
    /// The EXIF orientation of a photo's `UIImage.Orientation` (the raw values differ).
    init(_ orientation: UIImage.Orientation) {
        switch orientation {
        case .up: self = .up
        case .upMirrored: self = .upMirrored
        case .down: self = .down
        case .downMirrored: self = .downMirrored
        case .left: self = .left
        case .leftMirrored: self = .leftMirrored
        case .right: self = .right
        case .rightMirrored: self = .rightMirrored
        @unknown default: self = .up
        }
    }
}
