// swift-tools-version:5.9
// FlowersCore: the iOS app's platform-independent logic (top-k, smoothing, the confidence
// threshold, the frame-rate meter, manifest.json / labels.txt checks, SHA-256). Foundation only
// (and CryptoKit's SHA-256 where it exists), so it builds and tests with `swift test` on Linux
// as well as in Xcode.
import PackageDescription

let package = Package(
    name: "FlowersCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "FlowersCore", targets: ["FlowersCore"]),
    ],
    targets: [
        .target(
            name: "FlowersCore",
            // Swift 6's data-race checks, under the Swift 5 language mode that tools 5.9 implies.
            swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]
        ),
        .testTarget(
            name: "FlowersCoreTests",
            dependencies: ["FlowersCore"],
            // Read through #filePath, not Bundle.module: the fixtures are inputs, not resources.
            exclude: ["Fixtures"],
            swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]
        ),
    ]
)
