package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Test

class OrientationAndTextTest {

    @Test
    fun cameraRotationToExif() {
        assertEquals(Orientation.EXIF_TOP_LEFT, Orientation.exifForClockwiseRotation(0))
        assertEquals(Orientation.EXIF_RIGHT_TOP, Orientation.exifForClockwiseRotation(90))
        assertEquals(Orientation.EXIF_BOTTOM_RIGHT, Orientation.exifForClockwiseRotation(180))
        assertEquals(Orientation.EXIF_LEFT_BOTTOM, Orientation.exifForClockwiseRotation(270))
        assertEquals(Orientation.EXIF_RIGHT_TOP, Orientation.exifForClockwiseRotation(450))
        assertEquals(Orientation.EXIF_LEFT_BOTTOM, Orientation.exifForClockwiseRotation(-90))
    }

    @Test(expected = IllegalArgumentException::class)
    fun oddRotationIsRejected() {
        Orientation.exifForClockwiseRotation(45)
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
