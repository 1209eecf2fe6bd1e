package org.flowersmobile.app

import android.content.ContentResolver
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import androidx.exifinterface.media.ExifInterface
import org.flowersmobile.core.Orientation
import java.io.IOException
import java.io.InputStream

/** Decodes a picked photo into an upright ARGB_8888 bitmap small enough to classify and show. */
object PhotoLoader {

    /**
     * @param maxSide the decoded image's longer side is at most about twice this (power-of-two
     *   subsampling); the classifier resizes to the model's input anyway
     * @throws IOException when the content cannot be opened or is not an image
     */
    fun load(resolver: ContentResolver, uri: Uri, maxSide: Int = 1280): Bitmap {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        openStream(resolver, uri).use { BitmapFactory.decodeStream(it, null, bounds) }
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) throw IOException("not an image the platform can decode")

        var sample = 1
        while (maxOf(bounds.outWidth, bounds.outHeight) / (sample * 2) >= maxSide) sample *= 2
        val options = BitmapFactory.Options().apply {
            inSampleSize = sample
            inPreferredConfig = Bitmap.Config.ARGB_8888
        }
        val bitmap = openStream(resolver, uri).use { BitmapFactory.decodeStream(it, null, options) }
            ?: throw IOException("decoding failed")
        val exif = try {
            openStream(resolver, uri).use { ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, 1) }
        } catch (e: IOException) {
            1
        }
        // Upright like the training pipeline's images (EXIF transpose), so the classifier and the
        // screen both get the photo as the camera app showed it.
        return upright(bitmap, Orientation.sanitizeExif(exif))
    }

    private fun openStream(resolver: ContentResolver, uri: Uri): InputStream =
        resolver.openInputStream(uri) ?: throw IOException("cannot open $uri")

    private fun upright(bitmap: Bitmap, exif: Int): Bitmap {
        if (exif == Orientation.EXIF_TOP_LEFT) return bitmap
        val m = Matrix()
        when (exif) {
            Orientation.EXIF_TOP_RIGHT -> m.setScale(-1f, 1f)
            Orientation.EXIF_BOTTOM_RIGHT -> m.setRotate(180f)
            Orientation.EXIF_BOTTOM_LEFT -> m.setScale(1f, -1f)
            Orientation.EXIF_LEFT_TOP -> {
                m.setRotate(90f)
                m.postScale(-1f, 1f)
            }
            Orientation.EXIF_RIGHT_TOP -> m.setRotate(90f)
            Orientation.EXIF_RIGHT_BOTTOM -> {
                m.setRotate(-90f)
                m.postScale(-1f, 1f)
            }
            Orientation.EXIF_LEFT_BOTTOM -> m.setRotate(-90f)
        }
        val rotated = Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, true)
        if (rotated !== bitmap) bitmap.recycle()
        return rotated
    }
}
