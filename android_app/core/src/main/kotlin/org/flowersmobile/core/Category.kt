package org.flowersmobile.core

/**
 * One class of the model and its score (a probability in 0..1).
 *
 * The app converts MediaPipe's categories into these, so everything downstream
 * (smoothing, thresholding, formatting) is plain Kotlin that the JVM tests exercise.
 */
data class Category(val label: String, val score: Float)

/** Ranking helpers: highest score first, ties broken by the order the scores came in. */
object TopK {

    /**
     * The [k] best categories of a score vector.
     *
     * @param scores one score per output index
     * @param labels labels in output-index order; must be as long as [scores]
     * @param k how many to keep; more than the number of classes keeps them all
     * @return at most [k] categories, best first
     */
    fun fromScores(scores: FloatArray, labels: List<String>, k: Int): List<Category> {
        require(scores.size == labels.size) {
            "the model gives ${scores.size} scores but there are ${labels.size} labels"
        }
        val categories = ArrayList<Category>(scores.size)
        for (i in scores.indices) {
            categories.add(Category(labels[i], scores[i]))
        }
        return of(categories, k)
    }

    /**
     * The [k] best of [categories], best first. NaN scores rank last.
     *
     * The sort is stable, so equal scores keep their input order: a frame with a tie does not
     * swap the two labels back and forth.
     */
    fun of(categories: List<Category>, k: Int): List<Category> {
        require(k >= 0) { "k must be >= 0, got $k" }
        if (k == 0 || categories.isEmpty()) return emptyList()
        val sorted = categories.sortedWith(Comparator { a, b -> compareScores(b.score, a.score) })
        return if (sorted.size <= k) sorted else sorted.subList(0, k)
    }

    private fun compareScores(x: Float, y: Float): Int {
        // NaN goes below everything, so a broken score never becomes the top prediction.
        if (x.isNaN()) return if (y.isNaN()) 0 else -1
        if (y.isNaN()) return 1
        return x.compareTo(y)
    }
}
