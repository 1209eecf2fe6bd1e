import FlowersCore
import SwiftUI

/// The top predictions: the answer large when it clears the threshold; otherwise
/// "No confident prediction" with the candidates dimmed.
struct PredictionPanel: View {
    let state: ClassificationState
    let waitingText: String

    var body: some View {
        VStack(alignment: .leading, spacing: 10) {
            switch state {
            case .waiting:
                Text(waitingText)
                    .font(.headline)
            case let .confident(top):
                ForEach(top, id: \.label) { prediction in
                    PredictionRow(prediction: prediction, isAnswer: prediction == top.first)
                }
            case let .uncertain(top):
                Label("No confident prediction", systemImage: "questionmark.circle")
                    .font(.headline)
                ForEach(top, id: \.label) { prediction in
                    PredictionRow(prediction: prediction, isAnswer: false)
                        .opacity(0.6)
                }
            }
        }
        .padding()
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(.ultraThinMaterial, in: RoundedRectangle(cornerRadius: 16))
        .animation(.easeOut(duration: 0.15), value: state)
    }
}

/// One label, its probability as text and as a bar.
struct PredictionRow: View {
    let prediction: Prediction
    let isAnswer: Bool

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            HStack {
                Text(prediction.label)
                    .font(isAnswer ? Font.title2.bold() : Font.body)
                    .lineLimit(1)
                Spacer()
                Text(Formatting.percent(prediction.confidence))
                    .font(.body.monospacedDigit())
            }
            ProgressView(value: Double(min(max(prediction.confidence, 0), 1)))
                .tint(isAnswer ? Color.accentColor : Color.secondary)
        }
        .accessibilityElement(children: .combine)
    }
}
