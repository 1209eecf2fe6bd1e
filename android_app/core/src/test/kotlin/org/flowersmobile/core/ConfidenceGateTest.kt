package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class ConfidenceGateTest {

    private fun cats(vararg s: Float): List<Category> = s.mapIndexed { i, v -> Category("l$i", v) }

    @Test
    fun aboveThresholdIsConfident() {
        val p = ConfidenceGate(threshold = 0.5f).evaluate(cats(0.2f, 0.7f, 0.1f))
        assertTrue(p is Prediction.Confident)
        assertEquals("l1", (p as Prediction.Confident).best.label)
    }

    @Test
    fun belowThresholdIsUncertainButKeepsCandidates() {
        val p = ConfidenceGate(threshold = 0.5f).evaluate(cats(0.3f, 0.4f, 0.2f, 0.1f))
        assertTrue(p is Prediction.Uncertain)
        val u = p as Prediction.Uncertain
        assertEquals(listOf("l1", "l0", "l2"), u.top.map { it.label })
        assertEquals(0.5f, u.threshold, 0f)
    }

    @Test
    fun hysteresisKeepsAConfidentLabelJustBelowThreshold() {
        val gate = ConfidenceGate(threshold = 0.6f, hysteresis = 0.1f)
        assertTrue(gate.evaluate(cats(0.65f, 0.35f)) is Prediction.Confident)
        assertTrue(gate.evaluate(cats(0.55f, 0.45f)) is Prediction.Confident)
        assertTrue(gate.evaluate(cats(0.49f, 0.51f)) is Prediction.Uncertain)
        // A different label must clear the full threshold.
        assertTrue(gate.evaluate(cats(0.45f, 0.55f)) is Prediction.Uncertain)
    }

    @Test
    fun newLabelNeedsTheFullThreshold() {
        val gate = ConfidenceGate(threshold = 0.6f, hysteresis = 0.1f)
        gate.evaluate(cats(0.9f, 0.1f))
        assertTrue(gate.evaluate(cats(0.45f, 0.55f)) is Prediction.Uncertain)
    }

    @Test
    fun emptyIsUncertain() {
        assertTrue(ConfidenceGate().evaluate(emptyList()) is Prediction.Uncertain)
    }

    @Test
    fun topKLimitsCandidates() {
        val p = ConfidenceGate(threshold = 0.1f, topK = 2).evaluate(cats(0.4f, 0.3f, 0.2f, 0.1f))
        assertEquals(2, (p as Prediction.Confident).top.size)
    }

    @Test(expected = IllegalArgumentException::class)
    fun thresholdOutOfRangeIsRejected() {
        ConfidenceGate(threshold = 1.5f)
    }
}
