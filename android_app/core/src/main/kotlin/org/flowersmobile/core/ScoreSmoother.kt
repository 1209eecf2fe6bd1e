package org.flowersmobile.core

/**
 * Temporal smoothing of per-label scores: an exponential moving average whose weight depends on
 * the time between frames, so the overlay settles at the same speed at 10 fps and at 30 fps.
 *
 * A label missing from a frame counts as score 0 for that frame (the classifier may report only
 * its top few). Labels whose smoothed score decays below [dropBelow] are forgotten, which keeps
 * the state small. The iOS app's `ProbabilitySmoother` has the same rule and defaults
 * (tests/vectors/smoothing.json holds the cases both check).
 *
 * @param halfLifeMs time after which an old frame's weight has halved; 0 disables smoothing
 * @param resetAfterMs a longer gap between frames (camera paused) starts afresh instead of
 *   blending with a stale scene
 * @param dropBelow smoothed scores below this are removed
 */
class ScoreSmoother(
    val halfLifeMs: Double = DEFAULT_HALF_LIFE_MS,
    val resetAfterMs: Long = DEFAULT_RESET_AFTER_MS,
    val dropBelow: Float = DEFAULT_DROP_BELOW
) {

    private val smoothed = LinkedHashMap<String, Float>()
    private var lastTimestampMs: Long = NO_FRAME

    init {
        require(halfLifeMs >= 0.0 && !halfLifeMs.isNaN()) { "halfLifeMs must be >= 0, got $halfLifeMs" }
        require(resetAfterMs > 0) { "resetAfterMs must be > 0, got $resetAfterMs" }
    }

    /** Forget everything; the next frame is taken as it is. */
    fun reset() {
        smoothed.clear()
        lastTimestampMs = NO_FRAME
    }

    /** The current smoothed scores, best first. */
    fun current(): List<Category> = TopK.of(toCategories(), smoothed.size)

    /**
     * Blend one frame into the running average.
     *
     * @param frame this frame's categories (any order; labels unique)
     * @param timestampMs when the frame was taken; a timestamp that goes backwards, or one more
     *   than [resetAfterMs] after the last, resets
     * @return every smoothed category, best first
     */
    fun update(frame: List<Category>, timestampMs: Long): List<Category> {
        val first = lastTimestampMs == NO_FRAME || timestampMs < lastTimestampMs ||
            timestampMs - lastTimestampMs > resetAfterMs
        val alpha = if (first) 1f else alphaFor((timestampMs - lastTimestampMs).toDouble(), halfLifeMs)
        lastTimestampMs = timestampMs
        if (first) smoothed.clear()

        val incoming = HashMap<String, Float>(frame.size * 2)
        for (c in frame) {
            if (!c.score.isNaN()) incoming[c.label] = c.score
        }
        val keys = LinkedHashSet<String>(smoothed.keys)
        keys.addAll(incoming.keys)
        for (label in keys) {
            val old = smoothed[label] ?: 0f
            val new = incoming[label] ?: 0f
            val blended = alpha * new + (1f - alpha) * old
            if (blended < dropBelow) smoothed.remove(label) else smoothed[label] = blended
        }
        return current()
    }

    private fun toCategories(): List<Category> {
        val out = ArrayList<Category>(smoothed.size)
        for ((label, score) in smoothed) out.add(Category(label, score))
        return out
    }

    companion object {
        private const val NO_FRAME = Long.MIN_VALUE
        const val DEFAULT_HALF_LIFE_MS = 250.0
        const val DEFAULT_RESET_AFTER_MS = 1500L
        const val DEFAULT_DROP_BELOW = 1e-4f

        /**
         * Weight of the newest frame after [dtMs] milliseconds with the given half-life:
         * `1 - 0.5^(dt / halfLife)`. A half-life of 0 gives 1 (no smoothing).
         */
        fun alphaFor(dtMs: Double, halfLifeMs: Double): Float {
            if (halfLifeMs <= 0.0 || dtMs.isInfinite()) return 1f
            if (dtMs <= 0.0) return 0f
            return (1.0 - Math.pow(0.5, dtMs / halfLifeMs)).toFloat()
        }
    }
}
