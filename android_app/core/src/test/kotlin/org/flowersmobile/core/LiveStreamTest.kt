package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class LiveStreamTest {

    private val ms = 1_000_000L

    @Test
    fun oneFrameInFlightAndItsLatency() {
        val gate = InFlightGate(staleAfterNanos = 1000 * ms)
        assertTrue(gate.tryStart(10 * ms))
        assertFalse(gate.tryStart(20 * ms)) // still working on the first
        assertEquals(15 * ms, gate.finish(25 * ms))
        assertEquals(-1L, gate.finish(26 * ms)) // nothing in flight any more
        assertTrue(gate.tryStart(30 * ms))
    }

    @Test
    fun aLostResultFreesTheSlotOnceStale() {
        val gate = InFlightGate(staleAfterNanos = 500 * ms)
        assertTrue(gate.tryStart(0))
        assertFalse(gate.tryStart(499 * ms))
        assertTrue(gate.tryStart(500 * ms))
        gate.reset()
        assertTrue(gate.tryStart(501 * ms))
    }

    @Test
    fun timestampsStrictlyIncrease() {
        val clock = StreamClock()
        assertEquals(100L, clock.next(100))
        assertEquals(101L, clock.next(100))
        assertEquals(102L, clock.next(99)) // the clock stepped back: still increasing
        assertEquals(200L, clock.next(200))
    }

    @Test
    fun labelsInOutputIndexOrder() {
        assertEquals(listOf("daisy", "rose", "tulip"),
            Labels.inIndexOrder(listOf(Pair(2, "tulip"), Pair(0, "daisy"), Pair(1, "rose"))))
        assertNull(Labels.inIndexOrder(listOf(Pair(0, ""), Pair(1, "")))) // no labels in the metadata
        assertNull(Labels.inIndexOrder(listOf(Pair(0, "a"), Pair(2, "b"))))
        assertNull(Labels.inIndexOrder(listOf(Pair(0, "a"), Pair(0, "b"))))
        assertNull(Labels.inIndexOrder(emptyList()))
    }
}
