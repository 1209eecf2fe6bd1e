package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

class ScoreSmootherTest {

    private fun frame(vararg pairs: Pair<String, Float>): List<Category> = pairs.map { Category(it.first, it.second) }

    private fun scoreOf(list: List<Category>, label: String): Float = list.first { it.label == label }.score

    @Test
    fun firstFrameIsTakenAsIs() {
        val s = ScoreSmoother(halfLifeMs = 100.0)
        val out = s.update(frame("rose" to 0.8f, "tulip" to 0.2f), 1000)
        assertEquals(0.8f, scoreOf(out, "rose"), 1e-6f)
        assertEquals("rose", out[0].label)
    }

    @Test
    fun oneHalfLifeMovesHalfway() {
        val s = ScoreSmoother(halfLifeMs = 100.0)
        s.update(frame("rose" to 1.0f, "tulip" to 0.0f), 0)
        val out = s.update(frame("rose" to 0.0f, "tulip" to 1.0f), 100)
        assertEquals(0.5f, scoreOf(out, "rose"), 1e-5f)
        assertEquals(0.5f, scoreOf(out, "tulip"), 1e-5f)
    }

    @Test
    fun singleOutlierFrameDoesNotFlipTheTopLabel() {
        val s = ScoreSmoother(halfLifeMs = 300.0)
        var t = 0L
        repeat(10) {
            s.update(frame("rose" to 0.9f, "tulip" to 0.1f), t)
            t += 33
        }
        val out = s.update(frame("rose" to 0.1f, "tulip" to 0.9f), t)
        assertEquals("rose", out[0].label)
    }

    @Test
    fun smoothingDoesNotDependOnFrameRate() {
        // 10 fps and 30 fps over the same 300 ms reach the same blend.
        val slow = ScoreSmoother(halfLifeMs = 200.0)
        val fast = ScoreSmoother(halfLifeMs = 200.0)
        slow.update(frame("a" to 1f), 0)
        fast.update(frame("a" to 1f), 0)
        for (i in 1..3) slow.update(frame("a" to 0f), i * 100L)
        for (i in 1..9) fast.update(frame("a" to 0f), i * 100L / 3)
        val a = slow.current().firstOrNull()?.score ?: 0f
        val b = fast.current().firstOrNull()?.score ?: 0f
        assertEquals(a, b, 1e-3f)
        assertEquals(Math.pow(0.5, 1.5).toFloat(), a, 1e-3f)
    }

    @Test
    fun missingLabelsDecayAndAreForgotten() {
        val s = ScoreSmoother(halfLifeMs = 10.0)
        s.update(frame("a" to 1f), 0)
        val out = s.update(frame("b" to 1f), 1000)
        assertFalse(out.any { it.label == "a" })
        assertEquals("b", out[0].label)
    }

    @Test
    fun zeroHalfLifeDisablesSmoothing() {
        val s = ScoreSmoother(halfLifeMs = 0.0)
        s.update(frame("a" to 1f), 0)
        val out = s.update(frame("a" to 0.3f), 1)
        assertEquals(0.3f, scoreOf(out, "a"), 1e-6f)
    }

    @Test
    fun timeGoingBackwardsResets() {
        val s = ScoreSmoother(halfLifeMs = 1000.0)
        s.update(frame("a" to 1f), 5000)
        val out = s.update(frame("b" to 0.7f), 10)
        assertEquals(listOf("b"), out.map { it.label })
    }

    @Test
    fun alphaForIsOneMinusHalfPower() {
        assertEquals(0.5f, ScoreSmoother.alphaFor(100.0, 100.0), 1e-6f)
        assertEquals(0.75f, ScoreSmoother.alphaFor(200.0, 100.0), 1e-6f)
        assertEquals(1f, ScoreSmoother.alphaFor(5.0, 0.0), 0f)
        assertEquals(0f, ScoreSmoother.alphaFor(0.0, 100.0), 0f)
    }

    @Test
    fun resetForgetsState() {
        val s = ScoreSmoother()
        s.update(frame("a" to 1f), 0)
        s.reset()
        assertTrue(s.current().isEmpty())
    }
}
