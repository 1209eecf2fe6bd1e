package org.flowersmobile.app

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Rect
import org.flowersmobile.core.Category
import org.flowersmobile.core.Orientation
import org.tensorflow.lite.support.image.TensorImage
import org.tensorflow.lite.task.core.BaseOptions
import org.tensorflow.lite.task.core.vision.ImageProcessingOptions
import org.tensorflow.lite.task.vision.classifier.ImageClassifier
import java.io.Closeable

/** Where inference runs. The CPU path uses TFLite's default XNNPACK delegate. */
enum class Backend { CPU, GPU }

/**
 * The TFLite Task Library's [ImageClassifier] over `assets/flowers.tflite`.
 *
 * The Task Library reads everything about the model from its metadata: the labels, the input
 * size, and the input normalization (for this project's int8 model: uint8 input, scale 1, zero
 * point 0, because the [-1, 1] scaling is a layer inside the graph). So nothing about the model
 * is written here; another model with metadata drops in unchanged.
 *
 * Not thread-safe, and with the GPU delegate it must be used on the thread that created it: the
 * view model confines it to its single analysis thread.
 */
class FlowerClassifier private constructor(
    private val classifier: ImageClassifier,
    val backend: Backend,
    val threads: Int
) : Closeable {

    /**
     * Classify [bitmap] (ARGB_8888).
     *
     * @param exifOrientation how the buffer is rotated, as an EXIF value (see [Orientation]); the
     *   Task Library rotates while it resizes, so no rotated copy of the frame is made
     * @param roi the part of the buffer to classify (the part the preview shows), in buffer
     *   coordinates, or null for all of it
     * @return every class with its score, in the model's order
     */
    fun classify(bitmap: Bitmap, exifOrientation: Int, roi: Rect?): List<Category> {
        val options = ImageProcessingOptions.builder().setOrientation(orientationOf(exifOrientation))
        if (roi != null) options.setRoi(roi)
        val results = classifier.classify(TensorImage.fromBitmap(bitmap), options.build())
        val head = results.firstOrNull() ?: return emptyList()
        return head.categories.map { Category(it.label, it.score) }
    }

    override fun close() {
        classifier.close()
    }

    companion object {
        const val MODEL_ASSET = "flowers.tflite"

        /**
         * Load the model from the APK's assets.
         *
         * @throws Exception from the Task Library when the file is not a TFLite model with
         *   classifier metadata, or when the GPU delegate cannot be created
         */
        fun create(context: Context, backend: Backend, threads: Int): FlowerClassifier {
            val base = BaseOptions.builder().setNumThreads(threads)
            if (backend == Backend.GPU) base.useGpu()
            // No maxResults and no score threshold: every class comes back, so the smoother
            // sees the whole distribution and the overlay picks the top 3 after smoothing.
            val options = ImageClassifier.ImageClassifierOptions.builder()
                .setBaseOptions(base.build())
                .build()
            val classifier = ImageClassifier.createFromFileAndOptions(context, MODEL_ASSET, options)
            return FlowerClassifier(classifier, backend, threads)
        }

        private fun orientationOf(exif: Int): ImageProcessingOptions.Orientation =
            when (Orientation.sanitizeExif(exif)) {
                Orientation.EXIF_TOP_RIGHT -> ImageProcessingOptions.Orientation.TOP_RIGHT
                Orientation.EXIF_BOTTOM_RIGHT -> ImageProcessingOptions.Orientation.BOTTOM_RIGHT
                Orientation.EXIF_BOTTOM_LEFT -> ImageProcessingOptions.Orientation.BOTTOM_LEFT
                Orientation.EXIF_LEFT_TOP -> ImageProcessingOptions.Orientation.LEFT_TOP
                Orientation.EXIF_RIGHT_TOP -> ImageProcessingOptions.Orientation.RIGHT_TOP
                Orientation.EXIF_RIGHT_BOTTOM -> ImageProcessingOptions.Orientation.RIGHT_BOTTOM
                Orientation.EXIF_LEFT_BOTTOM -> ImageProcessingOptions.Orientation.LEFT_BOTTOM
                else -> ImageProcessingOptions.Orientation.TOP_LEFT
            }
    }
}
