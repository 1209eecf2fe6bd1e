package org.flowersmobile.app

import android.content.Context
import android.graphics.Bitmap
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.core.Delegate
import com.google.mediapipe.tasks.vision.core.ImageProcessingOptions
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifierResult
import org.flowersmobile.core.BundleNames
import org.flowersmobile.core.Category
import java.io.Closeable

/** Where inference runs. The CPU path is MediaPipe's default (TFLite with XNNPACK). */
enum class Backend { CPU, GPU }

/**
 * MediaPipe Tasks' [ImageClassifier] over `assets/flowers.tflite`.
 *
 * MediaPipe reads everything about the model from its metadata: the labels, the input size, and
 * the input normalization (for this project's int8 model: uint8 input, scale 1, zero point 0,
 * because the [-1, 1] scaling is a layer inside the graph). It stretches the whole image to the
 * input size without cropping (no region of interest), as training did. So nothing about the model
 * is written here; another model with classifier metadata drops in unchanged.
 *
 * Two running modes: [live] (LIVE_STREAM, camera frames in with [classifyAsync], results out on
 * MediaPipe's thread through the listener) and [still] (IMAGE, for a picked photo and for reading
 * the labels). Create and use both on one thread: the view model's analysis thread.
 */
class FlowerClassifier private constructor(
    private val classifier: ImageClassifier,
    val backend: Backend,
    private val mode: RunningMode
) : Closeable {

    /**
     * LIVE_STREAM: send one camera frame (ARGB_8888); its categories come to the listener given
     * to [live], tagged with [timestampMs].
     *
     * @param rotationDegrees the buffer's clockwise rotation to upright (0, 90, 180, 270)
     * @param timestampMs strictly greater than the previous frame's
     */
    fun classifyAsync(bitmap: Bitmap, rotationDegrees: Int, timestampMs: Long) {
        check(mode == RunningMode.LIVE_STREAM) { "classifyAsync needs a live classifier" }
        classifier.classifyAsync(BitmapImageBuilder(bitmap).build(), processing(rotationDegrees), timestampMs)
    }

    /** IMAGE: classify an upright [bitmap] (ARGB_8888) now; every class, in score order. */
    fun classify(bitmap: Bitmap): List<Category> {
        check(mode == RunningMode.IMAGE) { "classify needs a still classifier" }
        return categoriesOf(classifier.classify(BitmapImageBuilder(bitmap).build()))
    }

    /**
     * IMAGE: (output index, category name) of every class, as MediaPipe reads them from the
     * model's metadata (blank names when it has no labels). Classifies one grey image: the
     * scores do not matter, every class comes back.
     */
    fun indexedLabels(): List<Pair<Int, String>> {
        check(mode == RunningMode.IMAGE) { "indexedLabels needs a still classifier" }
        val grey = Bitmap.createBitmap(PROBE_SIDE, PROBE_SIDE, Bitmap.Config.ARGB_8888)
        grey.eraseColor(0xff808080.toInt())
        try {
            val result = classifier.classify(BitmapImageBuilder(grey).build())
            val head = result.classificationResult().classifications().firstOrNull() ?: return emptyList()
            return head.categories().map { Pair(it.index(), it.categoryName() ?: "") }
        } finally {
            grey.recycle()
        }
    }

    override fun close() {
        classifier.close()
    }

    companion object {
        const val MODEL_ASSET = BundleNames.MODEL
        private const val PROBE_SIDE = 32

        /**
         * A LIVE_STREAM classifier on [backend] that hands each frame's categories and timestamp
         * to [onResult], and errors to [onError], on MediaPipe's thread.
         *
         * @throws Exception from MediaPipe when the file is not a TFLite model with classifier
         *   metadata, or when the GPU delegate cannot be created
         */
        fun live(
            context: Context,
            backend: Backend,
            onResult: (List<Category>, Long) -> Unit,
            onError: (RuntimeException) -> Unit
        ): FlowerClassifier {
            val options = optionsFor(backend, RunningMode.LIVE_STREAM)
                .setResultListener { result, _ -> onResult(categoriesOf(result), result.timestampMs()) }
                .setErrorListener { e -> onError(e) }
                .build()
            return FlowerClassifier(ImageClassifier.createFromOptions(context, options), backend, RunningMode.LIVE_STREAM)
        }

        /** An IMAGE-mode classifier on the CPU (photos, and the labels check). */
        fun still(context: Context): FlowerClassifier {
            val options = optionsFor(Backend.CPU, RunningMode.IMAGE).build()
            return FlowerClassifier(ImageClassifier.createFromOptions(context, options), Backend.CPU, RunningMode.IMAGE)
        }

        private fun optionsFor(backend: Backend, mode: RunningMode): ImageClassifier.ImageClassifierOptions.Builder {
            val base = BaseOptions.builder()
                .setModelAssetPath(MODEL_ASSET)
                .setDelegate(if (backend == Backend.GPU) Delegate.GPU else Delegate.CPU)
                .build()
            // No maxResults and a zero threshold: every class comes back, so the smoother sees the
            // whole distribution and the overlay picks the top 3 after smoothing.
            return ImageClassifier.ImageClassifierOptions.builder()
                .setBaseOptions(base)
                .setRunningMode(mode)
                .setScoreThreshold(0f)
        }

        private fun processing(rotationDegrees: Int): ImageProcessingOptions =
            ImageProcessingOptions.builder().setRotationDegrees(rotationDegrees).build()

        private fun categoriesOf(result: ImageClassifierResult): List<Category> {
            val head = result.classificationResult().classifications().firstOrNull() ?: return emptyList()
            return head.categories().map { Category(it.categoryName() ?: "", it.score()) }
        }
    }
}
