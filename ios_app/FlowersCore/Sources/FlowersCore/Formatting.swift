import Foundation

/// Short, locale-independent text for the overlay (it must fit over a camera preview).
public enum Formatting {
    /// 0.953 -> "95%"; values are clamped to 0...1 and NaN shows as "–".
    public static func percent(_ value: Float) -> String {
        guard !value.isNaN else { return "–" }
        let clamped = min(max(value, 0), 1)
        return "\(Int((clamped * 100).rounded()))%"
    }

    /// 12.345 -> "12.3 ms"; nil -> "– ms".
    public static func milliseconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "– ms" }
        return "\(oneDecimal(value)) ms"
    }

    /// 29.7 -> "29.7 fps"; nil -> "– fps".
    public static func framesPerSecond(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "– fps" }
        return "\(oneDecimal(value)) fps"
    }

    /// One decimal, rounded half away from zero, without Foundation's locale-dependent formats.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((abs(value) * 10).rounded())
        let sign = value < 0 && tenths != 0 ? "-" : ""
        return "\(sign)\(tenths / 10).\(tenths % 10)"
    }
}
