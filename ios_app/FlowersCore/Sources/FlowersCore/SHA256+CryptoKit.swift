import Foundation

// On Apple platforms the model check hashes with CryptoKit (hardware-accelerated); SHA256.swift
// holds the plain-Swift hasher for the platforms without CryptoKit. Both offer the same API.
#if canImport(CryptoKit)
import CryptoKit

/// SHA-256 through CryptoKit, with the API the plain-Swift fallback has.
///
/// ```swift
/// var hasher = SHA256()
/// hasher.update(Data("abc".utf8))
/// hasher.finalize().hex  // "ba7816bf…"
/// ```
// @unchecked: CryptoKit's hasher is a value type with no shared state, but not every SDK marks
// it Sendable.
public struct SHA256: @unchecked Sendable {
    private var hasher = CryptoKit.SHA256()

    public init() {}

    /// Feed more bytes.
    public mutating func update(_ data: Data) {
        hasher.update(data: data)
    }

    /// Feed more bytes from a buffer.
    public mutating func update(bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// The digest of everything fed so far. The hasher itself is left as it was.
    public func finalize() -> SHA256Digest {
        let copy = hasher  // CryptoKit's finalize consumes its hasher; finalize a copy
        return SHA256Digest(bytes: Array(copy.finalize()))
    }

    /// The digest of `data` in one call.
    public static func hash(_ data: Data) -> SHA256Digest {
        SHA256Digest(bytes: Array(CryptoKit.SHA256.hash(data: data)))
    }
}
#endif
