package org.flowersmobile.app

import android.app.Application
import android.graphics.Bitmap
import android.graphics.Rect
import android.net.Uri
import android.os.SystemClock
import androidx.camera.core.ImageProxy
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.LiveData
import androidx.lifecycle.MutableLiveData
import org.flowersmobile.core.ConfidenceGate
import org.flowersmobile.core.FrameMeter
import org.flowersmobile.core.Orientation
import org.flowersmobile.core.Prediction
import org.flowersmobile.core.ScoreSmoother
import org.tensorflow.lite.gpu.CompatibilityList
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/** The model's state, as the screen shows it. */
sealed class ModelState {
    data object Loading : ModelState()

    /** assets/flowers.tflite is not in this build. */
    data object Missing : ModelState()

    /** The file is there but the Task Library could not load it. */
    data class Failed(val message: String) : ModelState()

    data class Ready(
        /** "name · precision · N labels" from manifest.json, or null without one. */
        val summary: String?,
        /** What the core module's bundle check found; empty when the files agree. */
        val problems: List<String>,
        val backend: Backend,
        val threads: Int,
        val gpuSupported: Boolean,
        /** A one-off message, e.g. that the GPU delegate failed and the CPU took over. */
        val notice: String?
    ) : ModelState()
}

/** One classified frame or photo. */
data class FrameState(val prediction: Prediction, val latencyMs: Double, val fps: Double, val fromPhoto: Boolean)

/**
 * Owns the classifier and the analysis thread, so both survive rotation (the activity is
 * recreated, the model is not reloaded).
 *
 * Every use of the classifier happens on [executor], one thread: the Task Library's classifier
 * is not thread-safe, and a GPU delegate is bound to the thread that created it. CameraX's
 * KEEP_ONLY_LATEST backpressure drops frames that arrive while one is being classified.
 */
class ClassifierViewModel(app: Application) : AndroidViewModel(app) {

    val executor: ExecutorService = Executors.newSingleThreadExecutor { r -> Thread(r, "flowers-analysis") }

    private val _model = MutableLiveData<ModelState>(ModelState.Loading)
    val model: LiveData<ModelState> = _model

    private val _frame = MutableLiveData<FrameState>(FrameState(Prediction.Waiting, 0.0, 0.0, false))
    val frame: LiveData<FrameState> = _frame

    private val _photo = MutableLiveData<Bitmap?>(null)
    /** The picked photo while the screen shows it instead of the camera, else null. */
    val photo: LiveData<Bitmap?> = _photo

    // Confined to the executor thread.
    private var classifier: FlowerClassifier? = null
    private val smoother = ScoreSmoother(halfLifeMs = SMOOTHING_HALF_LIFE_MS)
    private val gate = ConfidenceGate(threshold = CONFIDENCE_THRESHOLD, hysteresis = HYSTERESIS, topK = TOP_K)
    private val meter = FrameMeter(window = 30)
    private var gpuSupported = false
    private var summary: String? = null
    private var problems: List<String> = emptyList()

    @Volatile
    private var showingPhoto = false

    private val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)

    init {
        executor.execute { load() }
    }

    private fun load() {
        val context = getApplication<Application>()
        if (!ModelAssets.modelPresent(context.assets)) {
            _model.postValue(ModelState.Missing)
            return
        }
        val check = ModelAssets.check(context.assets)
        summary = check.summary(FlowerClassifier.MODEL_ASSET)
        problems = check.problems
        gpuSupported = try {
            val compatibility = CompatibilityList()
            try {
                compatibility.isDelegateSupportedOnThisDevice
            } finally {
                compatibility.close()
            }
        } catch (e: Throwable) {
            false // no GPU delegate library for this ABI, or no OpenGL ES 3.1
        }
        switchBackend(Backend.CPU)
    }

    /** Recreate the classifier on [backend]; a GPU failure falls back to the CPU with a notice. */
    private fun switchBackend(backend: Backend) {
        val context = getApplication<Application>()
        classifier?.close()
        classifier = null
        var notice: String? = null
        val created = try {
            FlowerClassifier.create(context, backend, threads)
        } catch (e: Exception) {
            if (backend == Backend.CPU) {
                _model.postValue(ModelState.Failed(e.message ?: e.javaClass.simpleName))
                return
            }
            notice = context.getString(R.string.gpu_failed, e.message ?: e.javaClass.simpleName)
            try {
                FlowerClassifier.create(context, Backend.CPU, threads)
            } catch (e2: Exception) {
                _model.postValue(ModelState.Failed(e2.message ?: e2.javaClass.simpleName))
                return
            }
        }
        classifier = created
        smoother.reset()
        gate.reset()
        meter.reset()
        _model.postValue(ModelState.Ready(summary, problems, created.backend, created.threads, gpuSupported, notice))
    }

    fun setUseGpu(enabled: Boolean) {
        executor.execute {
            val current = classifier ?: return@execute
            val wanted = if (enabled && gpuSupported) Backend.GPU else Backend.CPU
            if (current.backend != wanted) switchBackend(wanted)
        }
    }

    /** CameraX analyzer: runs on [executor]; always closes the frame so the next one comes. */
    fun analyze(image: ImageProxy) {
        try {
            val c = classifier ?: return
            if (showingPhoto) return
            val bitmap = image.toBitmap()
            // The crop rect is the part of the frame the preview shows (the use cases share a
            // ViewPort), in buffer coordinates; only use it on the full, uncropped buffer.
            val roi: Rect? = if (bitmap.width == image.width && bitmap.height == image.height) image.cropRect else null
            val exif = Orientation.exifForClockwiseRotation(image.imageInfo.rotationDegrees)
            val start = SystemClock.elapsedRealtimeNanos()
            val categories = c.classify(bitmap, exif, roi)
            val latency = SystemClock.elapsedRealtimeNanos() - start
            val timestamp = image.imageInfo.timestamp
            meter.record(timestamp, latency)
            val smoothed = smoother.update(categories, timestamp / 1_000_000L)
            _frame.postValue(FrameState(gate.evaluate(smoothed), meter.meanLatencyMs(), meter.fps(), false))
        } finally {
            image.close()
        }
    }

    /** Classify a picked photo once (no smoothing) and show it until [backToCamera]. */
    fun classifyPhoto(uri: Uri) {
        showingPhoto = true
        executor.execute {
            val context = getApplication<Application>()
            val c = classifier ?: return@execute
            val bitmap = try {
                PhotoLoader.load(context.contentResolver, uri)
            } catch (e: Exception) {
                val ready = currentReady()
                if (ready != null) {
                    _model.postValue(ready.copy(notice = context.getString(R.string.photo_failed, e.message ?: uri.toString())))
                }
                if (_photo.value == null) showingPhoto = false
                return@execute
            }
            val start = SystemClock.elapsedRealtimeNanos()
            val categories = c.classify(bitmap, Orientation.EXIF_TOP_LEFT, null)
            val latencyMs = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
            // A fresh gate: a photo has no history, so no hysteresis from the camera frames.
            val prediction = ConfidenceGate(CONFIDENCE_THRESHOLD, 0f, TOP_K).evaluate(categories)
            _photo.postValue(bitmap)
            _frame.postValue(FrameState(prediction, latencyMs, 0.0, true))
        }
    }

    fun backToCamera() {
        _photo.value = null
        executor.execute {
            smoother.reset()
            gate.reset()
            meter.reset()
            showingPhoto = false
            _frame.postValue(FrameState(Prediction.Waiting, 0.0, 0.0, false))
        }
    }

    /** The notice has been shown; clear it so a rotation does not show it again. */
    fun noticeShown() {
        val ready = currentReady() ?: return
        if (ready.notice != null) _model.value = ready.copy(notice = null)
    }

    private fun currentReady(): ModelState.Ready? = _model.value as? ModelState.Ready

    override fun onCleared() {
        executor.execute {
            classifier?.close()
            classifier = null
        }
        executor.shutdown()
    }

    companion object {
        /** A frame's weight halves in this time: steady labels without visible lag. */
        const val SMOOTHING_HALF_LIFE_MS = 250.0
        /** Below this smoothed top score the overlay says "no confident prediction". */
        const val CONFIDENCE_THRESHOLD = 0.5f
        const val HYSTERESIS = 0.05f
        const val TOP_K = 3
    }
}
