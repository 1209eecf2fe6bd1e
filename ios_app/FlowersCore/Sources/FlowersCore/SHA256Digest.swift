import Foundation

/// A 32-byte SHA-256 digest.
public struct SHA256Digest: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Lowercase hex, the form `manifest.json` and Python's `hashlib.hexdigest()` use.
    public var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var chars: [UInt8] = []
        chars.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    public var description: String { hex }
}
