package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Test

class OrientationAndTextTest {

    @Test
    fun cameraRotationToQuarterTurn() {
        assertEquals(0, Orientation.clockwiseQuarterTurn(0))
        assertEquals(90, Orientation.clockwiseQuarterTurn(90))
        assertEquals(270, Orientation.clockwiseQuarterTurn(270))
        assertEquals(90, Orientation.clockwiseQuarterTurn(450))
        assertEquals(270, Orientation.clockwiseQuarterTurn(-90))
    }

    @Test(expected = IllegalArgumentException::class)
    fun oddRotationIsRejected() {
        Orientation.clockwiseQuarterTurn(45)
    }

    @Test
    fun sanitizeExif() {
        assertEquals(1, Orientation.sanitizeExif(0))
        assertEquals(6, Orientation.sanitizeExif(6))
        assertEquals(1, Orientation.sanitizeExif(9))
    }

    @Test
    fun deviceOrientationToSurfaceRotation() {
        assertEquals(0, Orientation.surfaceRotationFor(0))
        assertEquals(0, Orientation.surfaceRotationFor(44))
        assertEquals(3, Orientation.surfaceRotationFor(90))
        assertEquals(2, Orientation.surfaceRotationFor(180))
        assertEquals(1, Orientation.surfaceRotationFor(270))
        assertEquals(0, Orientation.surfaceRotationFor(350))
        assertEquals(-1, Orientation.surfaceRotationFor(-1))
    }

    @Test
    fun percentages() {
        assertEquals("92%", OverlayText.percent(0.92f))
        assertEquals("<1%", OverlayText.percent(0.004f))
        assertEquals("0%", OverlayText.percent(0f))
        assertEquals("100%", OverlayText.percent(1.2f))
    }

    @Test
    fun headlines() {
        assertEquals("Waiting for frames…", OverlayText.headline(Prediction.Waiting))
        assertEquals("rose 81%", OverlayText.headline(Prediction.Confident(listOf(Category("rose", 0.81f)))))
        assertEquals("No confident prediction (below 50%)", OverlayText.headline(Prediction.Uncertain(emptyList(), 0.5f)))
        assertEquals("12.3 ms · 29.9 fps · GPU", OverlayText.stats(12.34, 29.94, "GPU"))
        assertEquals("sweet pea", OverlayText.displayLabel("sweet_pea"))
    }
}
