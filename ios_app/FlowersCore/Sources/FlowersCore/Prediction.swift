import Foundation

/// One class and its probability.
public struct Prediction: Sendable, Hashable, CustomStringConvertible {
    public var label: String
    public var confidence: Float

    public init(label: String, confidence: Float) {
        self.label = label
        self.confidence = confidence
    }

    public var description: String { "\(label) \(Formatting.percent(confidence))" }
}

/// The k most probable classes.
public enum TopK {
    /// The `k` highest scores, highest first. Ties go to the label that sorts first by Unicode
    /// code points, so the order never depends on a dictionary's iteration order.
    ///
    /// - Parameters:
    ///   - scores: probability per label (NaN scores are ignored).
    ///   - k: how many to return; fewer when there are fewer labels; 0 or less gives none.
    public static func select(_ scores: [String: Float], k: Int) -> [Prediction] {
        select(scores.map { Prediction(label: $0.key, confidence: $0.value) }, k: k)
    }

    /// The `k` highest of `probabilities`, named by `labels` (same order: output index i is
    /// `labels[i]`). Ties go to the lower index.
    ///
    /// - Throws: `FlowersCoreError.invalidArgument` when the counts differ.
    public static func select(probabilities: [Float], labels: [String], k: Int) throws -> [Prediction] {
        guard probabilities.count == labels.count else {
            throw FlowersCoreError.invalidArgument(
                "\(probabilities.count) probabilities for \(labels.count) labels; the model and its labels disagree")
        }
        var ranked: [(index: Int, value: Float)] = []
        ranked.reserveCapacity(max(0, k))
        for (index, value) in probabilities.enumerated() where !value.isNaN {
            insert((index, value), into: &ranked, k: k) { $0.value > $1.value || ($0.value == $1.value && $0.index < $1.index) }
        }
        return ranked.map { Prediction(label: labels[$0.index], confidence: $0.value) }
    }

    static func select(_ candidates: [Prediction], k: Int) -> [Prediction] {
        var ranked: [Prediction] = []
        ranked.reserveCapacity(max(0, k))
        for candidate in candidates where !candidate.confidence.isNaN {
            insert(candidate, into: &ranked, k: k, ranksBefore: ranksBefore)
        }
        return ranked
    }

    static func ranksBefore(_ a: Prediction, _ b: Prediction) -> Bool {
        if a.confidence != b.confidence { return a.confidence > b.confidence }
        return ContentDigest.scalarsPrecede(a.label, b.label)
    }

    /// Keep `ranked` as the best `k` seen so far, in order: O(n·k), which beats sorting
    /// everything for k = 3 of a hundred classes and needs no heap.
    private static func insert<T>(_ item: T, into ranked: inout [T], k: Int, ranksBefore: (T, T) -> Bool) {
        guard k > 0 else { return }
        if ranked.count == k {
            guard let last = ranked.last, ranksBefore(item, last) else { return }
            ranked.removeLast()
        }
        let position = ranked.firstIndex(where: { ranksBefore(item, $0) }) ?? ranked.count
        ranked.insert(item, at: position)
    }
}
