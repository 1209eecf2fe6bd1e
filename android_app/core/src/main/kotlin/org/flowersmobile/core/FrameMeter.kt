package org.flowersmobile.core

/**
 * Frames per second and inference latency over a sliding window of recent frames.
 *
 * Times are passed in (nanoseconds from any monotonic clock, e.g. `System.nanoTime()` or the
 * camera frame timestamp) so the meter is deterministic under test.
 *
 * @param window how many recent frames the averages cover
 */
class FrameMeter(val window: Int = 30) {

    private val frameTimes = LongArray(window)
    private val latencies = LongArray(window)
    private var count = 0
    private var next = 0

    init {
        require(window >= 2) { "window must be >= 2, got $window" }
    }

    /** Number of frames currently in the window. */
    val size: Int get() = count

    fun reset() {
        count = 0
        next = 0
    }

    /**
     * Record one frame.
     *
     * @param frameTimeNanos when the frame was shown or taken
     * @param latencyNanos how long inference took for it
     */
    fun record(frameTimeNanos: Long, latencyNanos: Long) {
        require(latencyNanos >= 0) { "latency must be >= 0, got $latencyNanos" }
        if (count > 0 && frameTimeNanos < frameTimes[(next - 1 + window) % window]) {
            reset() // clock went backwards (new camera session): start over
        }
        frameTimes[next] = frameTimeNanos
        latencies[next] = latencyNanos
        next = (next + 1) % window
        if (count < window) count++
    }

    /** Frames per second across the window; 0 until two frames with distinct times are in. */
    fun fps(): Double {
        if (count < 2) return 0.0
        val newest = frameTimes[(next - 1 + window) % window]
        val oldest = frameTimes[(next - count + window) % window]
        val span = newest - oldest
        if (span <= 0) return 0.0
        return (count - 1) * 1e9 / span
    }

    /** Mean inference latency in milliseconds across the window; 0 when empty. */
    fun meanLatencyMs(): Double {
        if (count == 0) return 0.0
        var sum = 0.0
        for (i in 0 until count) sum += latencies[(next - 1 - i + window) % window]
        return sum / count / 1e6
    }

    /** The most recent frame's latency in milliseconds; 0 when empty. */
    fun lastLatencyMs(): Double {
        if (count == 0) return 0.0
        return latencies[(next - 1 + window) % window] / 1e6
    }
}
