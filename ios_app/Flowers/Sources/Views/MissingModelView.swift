import SwiftUI
import UIKit

/// Shown when the app was built without a model: Flowers.mlpackage is a build output that the
/// bundle command copies into ios_app/Flowers/Model/, not a file in the repository.
struct MissingModelView: View {
    let searchedFolder: String

    var body: some View {
        ScrollView {
            VStack(alignment: .leading, spacing: 16) {
                Image(systemName: "shippingbox")
                    .font(.system(size: 44))
                    .foregroundColor(.secondary)
                Text("No model in this build")
                    .font(.title2.bold())
                Text("The app classifies with Model/Flowers.mlpackage, which the repository does not contain. "
                    + "Put it there with the bundle command, from the repository root:")
                CommandBlock(lines: [
                    "make demo",
                    "flowers-mobile bundle --platform ios",
                ])
                Text("For a model you trained yourself: flowers-mobile bundle --exports models/<run>/export "
                    + "--platform ios. The command checks the package against manifest.json (sha256) "
                    + "and copies it with labels.txt and manifest.json.")
                    .font(.callout)
                Text("Then build and run again in Xcode.")
                    .font(.callout.bold())
                Text("Looked in: \(searchedFolder)")
                    .font(.footnote)
                    .foregroundColor(.secondary)
                    .textSelection(.enabled)
            }
            .padding()
            .frame(maxWidth: .infinity, alignment: .leading)
        }
    }
}

/// Shell commands in a monospaced, selectable block.
struct CommandBlock: View {
    let lines: [String]

    var body: some View {
        Text(lines.map { "$ \($0)" }.joined(separator: "\n"))
            .font(.system(.callout, design: .monospaced))
            .textSelection(.enabled)
            .padding(12)
            .frame(maxWidth: .infinity, alignment: .leading)
            .background(Color(uiColor: .secondarySystemBackground), in: RoundedRectangle(cornerRadius: 8))
    }
}
