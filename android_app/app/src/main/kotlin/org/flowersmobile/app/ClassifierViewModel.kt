package org.flowersmobile.app

import android.app.ActivityManager
import android.app.Application
import android.content.Context
import android.graphics.Bitmap
import android.net.Uri
import android.os.SystemClock
import androidx.camera.core.ImageProxy
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.LiveData
import androidx.lifecycle.MutableLiveData
import org.flowersmobile.core.Category
import org.flowersmobile.core.ConfidenceGate
import org.flowersmobile.core.FrameMeter
import org.flowersmobile.core.InFlightGate
import org.flowersmobile.core.Labels
import org.flowersmobile.core.Orientation
import org.flowersmobile.core.Prediction
import org.flowersmobile.core.ScoreSmoother
import org.flowersmobile.core.StreamClock
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException

/** The model's state, as the screen shows it. */
sealed class ModelState {
    data object Loading : ModelState()

    /** assets/flowers.tflite is not in this build. */
    data object Missing : ModelState()

    /** The file is there but MediaPipe could not load it. */
    data class Failed(val message: String) : ModelState()

    data class Ready(
        /** "name · precision · N labels" from manifest.json, or null without one. */
        val summary: String?,
        /** What the core module's bundle check found; empty when the files agree. */
        val problems: List<String>,
        val backend: Backend,
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
 * The classifiers are created, fed and closed on [executor], one thread, and every result is
 * handled there too: MediaPipe's LIVE_STREAM listener runs on MediaPipe's own thread, so it only
 * posts the result back. One frame is in flight at a time ([InFlightGate]): CameraX's
 * KEEP_ONLY_LATEST backpressure and the gate drop the frames that arrive meanwhile, before any
 * bitmap is made of them.
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
    private var live: FlowerClassifier? = null
    private var still: FlowerClassifier? = null
    /** Bumped whenever [live] is replaced: results still queued from the old one are ignored. */
    private var generation = 0
    private val inFlight = InFlightGate()
    private val clock = StreamClock()
    private val smoother = ScoreSmoother(halfLifeMs = SMOOTHING_HALF_LIFE_MS)
    private val gate = ConfidenceGate(threshold = CONFIDENCE_THRESHOLD, hysteresis = HYSTERESIS, topK = TOP_K)
    private val meter = FrameMeter(window = 30)
    private var gpuSupported = false
    private var summary: String? = null
    private var problems: List<String> = emptyList()

    @Volatile
    private var showingPhoto = false

    init {
        executor.execute { load() }
    }

    private fun load() {
        val context = getApplication<Application>()
        if (!ModelAssets.modelPresent(context.assets)) {
            _model.postValue(ModelState.Missing)
            return
        }
        // The IMAGE-mode classifier reads the labels the way the live one will show them.
        val indexed = try {
            val image = FlowerClassifier.still(context)
            still = image
            image.indexedLabels()
        } catch (e: Exception) {
            _model.postValue(ModelState.Failed(e.message ?: e.javaClass.simpleName))
            return
        }
        val metadataLabels = Labels.inIndexOrder(indexed)
        val check = ModelAssets.check(context.assets, indexed.size, metadataLabels)
        summary = check.summary(FlowerClassifier.MODEL_ASSET)
        // Without labels in its metadata MediaPipe names no category: the overlay would be blank.
        problems = if (metadataLabels == null) {
            check.problems + context.getString(R.string.no_metadata_labels, FlowerClassifier.MODEL_ASSET)
        } else {
            check.problems
        }
        gpuSupported = hasOpenGlEs31(context)
        switchBackend(Backend.CPU)
    }

    /** MediaPipe's GPU path runs on OpenGL ES 3.1 compute shaders; without them only the CPU is offered. */
    private fun hasOpenGlEs31(context: Context): Boolean {
        val activity = context.getSystemService(ActivityManager::class.java) ?: return false
        return activity.deviceConfigurationInfo.reqGlEsVersion >= 0x30001
    }

    /** Recreate the live classifier on [backend]; a GPU failure falls back to the CPU with a notice. */
    private fun switchBackend(backend: Backend) {
        val context = getApplication<Application>()
        live?.close()
        live = null
        generation++
        inFlight.reset()
        var notice: String? = null
        val created = try {
            createLive(context, backend)
        } catch (e: Exception) {
            if (backend == Backend.CPU) {
                _model.postValue(ModelState.Failed(e.message ?: e.javaClass.simpleName))
                return
            }
            notice = context.getString(R.string.gpu_failed, e.message ?: e.javaClass.simpleName)
            try {
                createLive(context, Backend.CPU)
            } catch (e2: Exception) {
                _model.postValue(ModelState.Failed(e2.message ?: e2.javaClass.simpleName))
                return
            }
        }
        live = created
        smoother.reset()
        gate.reset()
        meter.reset()
        _model.postValue(ModelState.Ready(summary, problems, created.backend, gpuSupported, notice))
    }

    private fun createLive(context: Context, backend: Backend): FlowerClassifier {
        val tag = generation
        return FlowerClassifier.live(
            context, backend,
            onResult = { categories, timestampMs -> post { onLiveResult(tag, categories, timestampMs) } },
            onError = { e -> post { onLiveError(tag, e) } }
        )
    }

    /** Run [block] on the analysis thread; dropped once the view model is cleared. */
    private fun post(block: () -> Unit) {
        try {
            executor.execute(block)
        } catch (e: RejectedExecutionException) {
            // Cleared: a result that was still on its way no longer has a screen to go to.
        }
    }

    fun setUseGpu(enabled: Boolean) {
        executor.execute {
            val current = live ?: return@execute
            val wanted = if (enabled && gpuSupported) Backend.GPU else Backend.CPU
            if (current.backend != wanted) switchBackend(wanted)
        }
    }

    /** CameraX analyzer: runs on [executor]; always closes the frame so the next one comes. */
    fun analyze(image: ImageProxy) {
        try {
            val c = live ?: return
            if (showingPhoto) return
            val sentAt = SystemClock.elapsedRealtimeNanos()
            if (!inFlight.tryStart(sentAt)) return // MediaPipe is still on the previous frame
            // The whole frame, no region of interest: MediaPipe stretches it to the model's
            // input, the project's one resize rule (the preview letterboxes the same frame).
            val bitmap = image.toBitmap()
            val rotation = Orientation.clockwiseQuarterTurn(image.imageInfo.rotationDegrees)
            try {
                c.classifyAsync(bitmap, rotation, clock.next(sentAt / 1_000_000L))
            } catch (e: RuntimeException) {
                inFlight.reset() // not sent: free the slot for the next frame
                throw e
            }
        } finally {
            image.close()
        }
    }

    private fun onLiveResult(tag: Int, categories: List<Category>, timestampMs: Long) {
        if (tag != generation) return
        val now = SystemClock.elapsedRealtimeNanos()
        val latency = inFlight.finish(now)
        if (latency < 0 || showingPhoto) return
        meter.record(now, latency)
        val smoothed = smoother.update(categories, timestampMs)
        _frame.postValue(FrameState(gate.evaluate(smoothed), meter.meanLatencyMs(), meter.fps(), false))
    }

    private fun onLiveError(tag: Int, e: RuntimeException) {
        if (tag != generation) return
        inFlight.reset()
        val ready = currentReady() ?: return
        val context = getApplication<Application>()
        _model.postValue(ready.copy(notice = context.getString(R.string.frame_failed, e.message ?: e.javaClass.simpleName)))
    }

    /** Classify a picked photo once (no smoothing) and show it until [backToCamera]. */
    fun classifyPhoto(uri: Uri) {
        showingPhoto = true
        executor.execute {
            val context = getApplication<Application>()
            val c = still ?: return@execute
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
            val categories = c.classify(bitmap)
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
            inFlight.reset()
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
            generation++
            live?.close()
            live = null
            still?.close()
            still = null
        }
        executor.shutdown()
    }

    companion object {
        /** A frame's weight halves in this time: steady labels without visible lag. */
        const val SMOOTHING_HALF_LIFE_MS = ScoreSmoother.DEFAULT_HALF_LIFE_MS
        /** Below this smoothed top score the overlay says "no confident prediction". */
        const val CONFIDENCE_THRESHOLD = ConfidenceGate.DEFAULT_THRESHOLD
        const val HYSTERESIS = ConfidenceGate.DEFAULT_HYSTERESIS
        const val TOP_K = ConfidenceGate.DEFAULT_TOP_K
    }
}
