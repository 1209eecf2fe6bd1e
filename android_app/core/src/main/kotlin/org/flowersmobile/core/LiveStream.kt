package org.flowersmobile.core

/**
 * Bookkeeping for MediaPipe's LIVE_STREAM mode, where a frame goes in with `classifyAsync` and its
 * result comes back later on another thread. Plain Kotlin so the JVM tests cover it.
 *
 * At most one frame is in flight: the analyzer skips frames (and their bitmap copies) while
 * MediaPipe works on one, and the frame's send time gives its exact latency. A frame whose result
 * never comes (MediaPipe reported an error instead, or dropped it) frees the slot after
 * [staleAfterNanos].
 */
class InFlightGate(private val staleAfterNanos: Long = 1_000_000_000L) {

    private var sentAtNanos = NONE

    init {
        require(staleAfterNanos > 0) { "staleAfterNanos must be > 0, got $staleAfterNanos" }
    }

    /** Claim the slot for a frame sent at [nowNanos]; false while another frame is in flight. */
    @Synchronized
    fun tryStart(nowNanos: Long): Boolean {
        if (sentAtNanos != NONE && nowNanos - sentAtNanos < staleAfterNanos) return false
        sentAtNanos = nowNanos
        return true
    }

    /** The in-flight frame's result arrived at [nowNanos]: its latency, or -1 when none was in flight. */
    @Synchronized
    fun finish(nowNanos: Long): Long {
        if (sentAtNanos == NONE) return -1
        val latency = maxOf(0L, nowNanos - sentAtNanos)
        sentAtNanos = NONE
        return latency
    }

    /** Forget the frame in flight (the classifier was closed or replaced). */
    @Synchronized
    fun reset() {
        sentAtNanos = NONE
    }

    private companion object {
        const val NONE = Long.MIN_VALUE
    }
}

/**
 * LIVE_STREAM input timestamps in milliseconds: MediaPipe rejects one that is not strictly greater
 * than the previous, which two frames within the same millisecond would otherwise give.
 */
class StreamClock {
    private var last = Long.MIN_VALUE

    /** [nowMs], or one more than the previous timestamp when the clock has not moved on. */
    @Synchronized
    fun next(nowMs: Long): Long {
        val t = if (last == Long.MIN_VALUE || nowMs > last) nowMs else last + 1
        last = t
        return t
    }
}
