package org.flowersmobile.core

/** What the overlay shows for one frame. */
sealed class Prediction {
    /** No frame classified yet (model loading, camera starting). */
    object Waiting : Prediction()

    /** The best label is confident enough to name. [top] is best first. */
    class Confident(val top: List<Category>) : Prediction() {
        val best: Category get() = top[0]
    }

    /**
     * Nothing is above the threshold: the overlay says "no confident prediction" and shows the
     * candidates greyed out. [top] is best first and may be empty.
     */
    class Uncertain(val top: List<Category>, val threshold: Float) : Prediction()
}

/**
 * Decides between [Prediction.Confident] and [Prediction.Uncertain].
 *
 * With hysteresis, a label becomes confident at [threshold] and stays confident until it falls
 * below `threshold - hysteresis`, so a score hovering around the threshold does not blink. The
 * defaults, 0.5 (the best label then outweighs all the others together) and 0.05, are the iOS
 * app's `ConfidencePolicy` defaults too (tests/vectors/threshold.json).
 *
 * @param threshold minimum top score to name a label, in 0..1
 * @param hysteresis how far below [threshold] a confident label may fall before it is dropped
 * @param topK how many categories a prediction carries
 */
class ConfidenceGate(
    val threshold: Float = DEFAULT_THRESHOLD,
    val hysteresis: Float = DEFAULT_HYSTERESIS,
    val topK: Int = DEFAULT_TOP_K
) {

    private var confidentLabel: String? = null

    init {
        require(threshold in 0f..1f) { "threshold must be in 0..1, got $threshold" }
        require(hysteresis >= 0f && hysteresis <= threshold) {
            "hysteresis must be in 0..threshold, got $hysteresis"
        }
        require(topK >= 1) { "topK must be >= 1, got $topK" }
    }

    fun reset() {
        confidentLabel = null
    }

    /** Classify one (smoothed) frame's categories; they need not be sorted. */
    fun evaluate(categories: List<Category>): Prediction {
        val top = TopK.of(categories, topK)
        if (top.isEmpty()) {
            confidentLabel = null
            return Prediction.Uncertain(top, threshold)
        }
        val best = top[0]
        val needed = if (best.label == confidentLabel) threshold - hysteresis else threshold
        return if (best.score >= needed) {
            confidentLabel = best.label
            Prediction.Confident(top)
        } else {
            confidentLabel = null
            Prediction.Uncertain(top, threshold)
        }
    }

    companion object {
        const val DEFAULT_THRESHOLD = 0.5f
        const val DEFAULT_HYSTERESIS = 0.05f
        const val DEFAULT_TOP_K = 3
    }
}
