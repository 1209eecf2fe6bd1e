package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Test

class FrameMeterTest {

    private val ms = 1_000_000L

    @Test
    fun steadyThirtyFps() {
        val m = FrameMeter(window = 10)
        for (i in 0 until 20) m.record(i * 33_333_333L, 12 * ms)
        assertEquals(30.0, m.fps(), 0.01)
        assertEquals(12.0, m.meanLatencyMs(), 1e-9)
        assertEquals(10, m.size)
    }

    @Test
    fun windowForgetsOldLatencies() {
        val m = FrameMeter(window = 3)
        m.record(0, 100 * ms)
        m.record(10 * ms, 10 * ms)
        m.record(20 * ms, 10 * ms)
        m.record(30 * ms, 10 * ms)
        assertEquals(10.0, m.meanLatencyMs(), 1e-9)
        assertEquals(10.0, m.lastLatencyMs(), 1e-9)
        assertEquals(100.0, m.fps(), 1e-6)
    }

    @Test
    fun needsTwoFramesForFps() {
        val m = FrameMeter()
        assertEquals(0.0, m.fps(), 0.0)
        m.record(5, 1)
        assertEquals(0.0, m.fps(), 0.0)
        assertEquals(0.0, FrameMeter().meanLatencyMs(), 0.0)
    }

    @Test
    fun clockGoingBackwardsResets() {
        val m = FrameMeter()
        m.record(1000 * ms, 1 * ms)
        m.record(1100 * ms, 1 * ms)
        m.record(10 * ms, 5 * ms)
        assertEquals(1, m.size)
        assertEquals(5.0, m.meanLatencyMs(), 1e-9)
    }

    @Test(expected = IllegalArgumentException::class)
    fun tinyWindowIsRejected() {
        FrameMeter(window = 1)
    }
}
