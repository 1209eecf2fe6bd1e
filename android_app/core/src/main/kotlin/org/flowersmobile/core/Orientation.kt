package org.flowersmobile.core

/**
 * Rotation arithmetic the camera code needs, kept free of Android types so it can be tested.
 *
 * EXIF orientation values (1..8) are what photos carry in their EXIF tags; camera buffers come
 * with a clockwise rotation in degrees instead.
 */
object Orientation {

    /** EXIF "normal": row 0 at the top, column 0 at the left. */
    const val EXIF_TOP_LEFT = 1
    const val EXIF_TOP_RIGHT = 2
    const val EXIF_BOTTOM_RIGHT = 3
    const val EXIF_BOTTOM_LEFT = 4
    const val EXIF_LEFT_TOP = 5
    const val EXIF_RIGHT_TOP = 6
    const val EXIF_RIGHT_BOTTOM = 7
    const val EXIF_LEFT_BOTTOM = 8

    /**
     * A camera buffer's clockwise rotation to upright (CameraX's `ImageInfo.rotationDegrees`) as
     * 0, 90, 180 or 270: what MediaPipe's `ImageProcessingOptions.setRotationDegrees` takes.
     *
     * @throws IllegalArgumentException unless the rotation is a multiple of 90
     */
    fun clockwiseQuarterTurn(rotationDegrees: Int): Int {
        require(rotationDegrees % 90 == 0) { "rotation must be a multiple of 90, got $rotationDegrees" }
        return ((rotationDegrees % 360) + 360) % 360
    }

    /** A valid EXIF orientation, or [EXIF_TOP_LEFT] for 0 ("undefined") and unknown values. */
    fun sanitizeExif(value: Int): Int = if (value in 1..8) value else EXIF_TOP_LEFT

    /**
     * The display rotation index (0..3, i.e. Android's `Surface.ROTATION_0`..`ROTATION_270`) for
     * a device orientation in degrees from `OrientationEventListener`, or -1 for unknown (< 0).
     *
     * The device turned 90 degrees clockwise shows its content at `ROTATION_270`, hence the
     * reversed order.
     */
    fun surfaceRotationFor(orientationDegrees: Int): Int {
        if (orientationDegrees < 0) return -1
        val d = orientationDegrees % 360
        return when {
            d >= 45 && d < 135 -> 3
            d >= 135 && d < 225 -> 2
            d >= 225 && d < 315 -> 1
            else -> 0
        }
    }
}
