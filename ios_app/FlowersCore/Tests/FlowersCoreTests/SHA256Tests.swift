import Foundation
import XCTest
@testable import FlowersCore

final class SHA256Tests: XCTestCase {
    private func hex(_ text: String) -> String {
        SHA256.hash(Data(text.utf8)).hex
    }

    func testNISTVectors() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testOneMillionAInChunks() {
        var hasher = SHA256()
        let chunk = Data(repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        XCTAssertEqual(hasher.finalize().hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56-byte padding boundary and the 64-byte block size
    /// (expected values from Python's hashlib).
    func testPaddingBoundaries() {
        let expected: [Int: String] = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            65: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
            120: "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c",
            128: "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e",
        ]
        for (length, digest) in expected {
            XCTAssertEqual(hex(String(repeating: "a", count: length)), digest, "length \(length)")
        }
    }

    /// Every way of splitting a message into two updates gives the one-shot digest.
    func testSplitUpdatesMatchOneShot() {
        let message = Data((0..<768).map { UInt8($0 % 256) })
        let whole = "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363"
        XCTAssertEqual(SHA256.hash(message).hex, whole)
        for split in stride(from: 0, through: message.count, by: 7) {
            var hasher = SHA256()
            hasher.update(message.prefix(split))
            hasher.update(message.suffix(from: split))
            XCTAssertEqual(hasher.finalize().hex, whole, "split at \(split)")
        }
    }

    func testFinalizeLeavesTheHasherUsable() {
        var hasher = SHA256()
        hasher.update(Data("ab".utf8))
        _ = hasher.finalize()
        hasher.update(Data("c".utf8))
        XCTAssertEqual(hasher.finalize().hex, hex("abc"))
    }

    func testDigestIsThirtyTwoBytesOfLowercaseHex() {
        let digest = SHA256.hash(Data("flowers".utf8))
        XCTAssertEqual(digest.bytes.count, 32)
        XCTAssertEqual(digest.hex.count, 64)
        XCTAssertEqual(digest.hex, digest.hex.lowercased())
        XCTAssertEqual(digest.description, digest.hex)
    }
}
