import SwiftUI

/// Live flower classification with the Core ML model that `flowers-mobile bundle --platform ios`
/// puts in `Model/`.
@main
struct FlowersApp: App {
    @StateObject private var app = AppModel()

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(app)
                .task { await app.loadModel() }
        }
    }
}
