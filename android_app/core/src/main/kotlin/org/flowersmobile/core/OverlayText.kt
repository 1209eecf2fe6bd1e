package org.flowersmobile.core

import java.util.Locale

/** Strings the overlay shows, formatted the same way on every locale. */
object OverlayText {

    /** "92%"; "<1%" for tiny non-zero scores so they do not read as zero. */
    fun percent(score: Float): String {
        if (score.isNaN()) return "–"
        val p = score * 100f
        if (p > 0f && p < 1f) return "<1%"
        return String.format(Locale.ROOT, "%.0f%%", p.coerceIn(0f, 100f))
    }

    /** "12.3 ms · 24.1 fps · CPU". */
    fun stats(latencyMs: Double, fps: Double, backend: String): String =
        String.format(Locale.ROOT, "%.1f ms · %.1f fps · %s", latencyMs, fps, backend)

    /** The headline: the best label, or the "no confident prediction" message with the threshold. */
    fun headline(prediction: Prediction): String = when (prediction) {
        is Prediction.Waiting -> "Waiting for frames…"
        is Prediction.Confident -> "${prediction.best.label} ${percent(prediction.best.score)}"
        is Prediction.Uncertain -> "No confident prediction (below ${percent(prediction.threshold)})"
    }

    /**
     * Labels as people read them: the exporter's labels may use underscores
     * ("sweet_pea" -> "sweet pea"); the label itself is left alone everywhere else.
     */
    fun displayLabel(label: String): String = label.replace('_', ' ')
}
