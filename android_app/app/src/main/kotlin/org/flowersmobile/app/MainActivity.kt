package org.flowersmobile.app

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Bundle
import android.provider.Settings
import android.view.OrientationEventListener
import android.view.Surface
import android.view.View
import android.view.ViewGroup
import android.widget.Toast
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.UseCaseGroup
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.core.content.ContextCompat
import androidx.core.view.ViewCompat
import androidx.core.view.WindowInsetsCompat
import androidx.core.view.isVisible
import androidx.core.view.updateLayoutParams
import androidx.core.view.updatePadding
import org.flowersmobile.app.databinding.ActivityMainBinding
import org.flowersmobile.app.databinding.ViewResultRowBinding
import org.flowersmobile.core.Category
import org.flowersmobile.core.Orientation
import org.flowersmobile.core.OverlayText
import org.flowersmobile.core.Prediction

/**
 * Camera preview with the top 3 predictions over it, inference time and frames per second.
 *
 * Flow: no model in the assets -> the missing-model screen; no camera permission -> a panel that
 * explains why and offers the photo picker; otherwise CameraX preview + analysis, classified by
 * [ClassifierViewModel] on its own thread.
 */
class MainActivity : AppCompatActivity() {

    private lateinit var binding: ActivityMainBinding
    private val viewModel: ClassifierViewModel by viewModels()
    private var imageAnalysis: ImageAnalysis? = null
    private var orientationListener: OrientationEventListener? = null
    private var backendLabel = ""

    private val requestCameraPermission =
        registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
            if (granted) {
                showPermissionPanel(false)
                startCamera()
            } else {
                // No rationale after a refusal means "don't ask again": only Settings can help.
                val permanently = !shouldShowRequestPermissionRationale(Manifest.permission.CAMERA)
                showPermissionPanel(true, permanently)
            }
        }

    private val pickPhoto =
        registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri: Uri? ->
            if (uri != null) viewModel.classifyPhoto(uri)
        }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        binding = ActivityMainBinding.inflate(layoutInflater)
        setContentView(binding.root)
        applyWindowInsets()

        binding.pickPhotoButton.setOnClickListener { launchPhotoPicker() }
        binding.permissionPanel.permissionPickPhotoButton.setOnClickListener {
            showPermissionPanel(false)
            launchPhotoPicker()
        }
        binding.cameraButton.setOnClickListener {
            viewModel.backToCamera()
            if (ModelAssets.modelPresent(assets) && !hasCameraPermission()) {
                showPermissionPanel(true, !shouldShowRequestPermissionRationale(Manifest.permission.CAMERA))
            }
        }
        // A click listener, not a checked-change one: renderModel sets isChecked from the state,
        // and that must not switch the backend again.
        binding.gpuSwitch.setOnClickListener { viewModel.setUseGpu(binding.gpuSwitch.isChecked) }

        viewModel.model.observe(this) { renderModel(it) }
        viewModel.frame.observe(this) { renderFrame(it) }
        viewModel.photo.observe(this) { bitmap ->
            binding.photoView.setImageBitmap(bitmap)
            binding.photoView.isVisible = bitmap != null
            binding.cameraButton.isVisible = bitmap != null
        }

        if (!ModelAssets.modelPresent(assets)) return // renderModel shows the missing-model screen

        when {
            !packageManager.hasSystemFeature(PackageManager.FEATURE_CAMERA_ANY) -> showNoCamera()
            hasCameraPermission() -> startCamera()
            savedInstanceState == null -> requestCameraPermission.launch(Manifest.permission.CAMERA)
            else -> showPermissionPanel(true, !shouldShowRequestPermissionRationale(Manifest.permission.CAMERA))
        }
    }

    override fun onStart() {
        super.onStart()
        // Frames are rotated upright by the device's physical orientation, so a flower held
        // upright is classified upright even when the screen does not rotate (rotation lock).
        orientationListener = object : OrientationEventListener(this) {
            override fun onOrientationChanged(orientation: Int) {
                val rotation = Orientation.surfaceRotationFor(orientation)
                if (rotation >= 0) imageAnalysis?.targetRotation = rotation
            }
        }.also { if (it.canDetectOrientation()) it.enable() }
    }

    override fun onStop() {
        orientationListener?.disable()
        orientationListener = null
        super.onStop()
    }

    override fun onDestroy() {
        // The analysis executor belongs to the view model, which shuts it down when the activity
        // finishes: stop CameraX from handing it frames first.
        imageAnalysis?.clearAnalyzer()
        imageAnalysis = null
        super.onDestroy()
    }

    private fun hasCameraPermission(): Boolean =
        ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED

    private fun launchPhotoPicker() {
        pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            // The preview's display rotation is known once the view is laid out.
            binding.previewView.post { bindCamera(provider) }
        }, ContextCompat.getMainExecutor(this))
    }

    private fun bindCamera(provider: ProcessCameraProvider) {
        val rotation = binding.previewView.display?.rotation ?: Surface.ROTATION_0
        // Preview and analysis both 4:3, so the letterboxed preview (fitCenter) shows exactly the
        // frame the model classifies: the whole of it, stretched to the input, no crop.
        val fourThree = ResolutionSelector.Builder()
            .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY)
            .build()
        val preview = Preview.Builder()
            .setResolutionSelector(fourThree)
            .setTargetRotation(rotation)
            .build()
        preview.setSurfaceProvider(binding.previewView.surfaceProvider)

        // 4:3 at modest resolution: the model sees a few hundred pixels at most, and a small
        // buffer keeps the RGBA conversion cheap.
        val analysis = ImageAnalysis.Builder()
            .setResolutionSelector(fourThree)
            .setTargetRotation(rotation)
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
            .build()
        analysis.setAnalyzer(viewModel.executor) { image -> viewModel.analyze(image) }

        // No shared ViewPort: it would crop the analysis frame to the preview's shape. The model
        // sees the whole frame, like training, parity and the iOS app.
        val group = UseCaseGroup.Builder().addUseCase(preview).addUseCase(analysis)

        val selector = try {
            if (provider.hasCamera(CameraSelector.DEFAULT_BACK_CAMERA)) {
                CameraSelector.DEFAULT_BACK_CAMERA
            } else {
                CameraSelector.DEFAULT_FRONT_CAMERA
            }
        } catch (e: Exception) {
            showNoCamera()
            return
        }
        try {
            provider.unbindAll()
            provider.bindToLifecycle(this, selector, group.build())
            imageAnalysis = analysis
        } catch (e: Exception) {
            Toast.makeText(this, e.message ?: "camera unavailable", Toast.LENGTH_LONG).show()
            showNoCamera()
        }
    }

    private fun showPermissionPanel(show: Boolean, permanently: Boolean = false) {
        val panel = binding.permissionPanel
        panel.root.isVisible = show
        if (!show) return
        if (permanently) {
            panel.permissionMessage.setText(R.string.permission_denied_permanently)
            panel.grantButton.setText(R.string.permission_open_settings)
            panel.grantButton.setOnClickListener {
                startActivity(Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", packageName, null)))
            }
        } else {
            panel.permissionMessage.setText(R.string.permission_rationale)
            panel.grantButton.setText(R.string.permission_grant)
            panel.grantButton.setOnClickListener { requestCameraPermission.launch(Manifest.permission.CAMERA) }
        }
    }

    override fun onResume() {
        super.onResume()
        // Back from Settings with the permission granted.
        if (binding.permissionPanel.root.isVisible && hasCameraPermission()) {
            showPermissionPanel(false)
            startCamera()
        }
    }

    private fun showNoCamera() {
        binding.headlineText.setText(R.string.no_camera)
    }

    private fun renderModel(state: ModelState) {
        val missing = binding.missingModelPanel
        when (state) {
            is ModelState.Loading -> binding.headlineText.setText(R.string.loading_model)
            is ModelState.Missing -> {
                missing.root.isVisible = true
                missing.missingModelDetails.isVisible = false
            }
            is ModelState.Failed -> {
                missing.root.isVisible = true
                missing.missingModelDetails.isVisible = true
                missing.missingModelDetails.text = getString(R.string.missing_model_failed, state.message)
            }
            is ModelState.Ready -> {
                missing.root.isVisible = false
                binding.modelText.text = state.summary ?: getString(R.string.model_unknown)
                binding.warningText.isVisible = state.problems.isNotEmpty()
                binding.warningText.text = getString(R.string.bundle_problems, state.problems.joinToString("; "))
                binding.gpuSwitch.isEnabled = state.gpuSupported
                binding.gpuSwitch.isChecked = state.backend == Backend.GPU
                if (!state.gpuSupported) binding.gpuSwitch.text = getString(R.string.gpu_unsupported)
                backendLabel = if (state.backend == Backend.GPU) {
                    getString(R.string.backend_gpu)
                } else {
                    getString(R.string.backend_cpu)
                }
                if (state.notice != null) {
                    Toast.makeText(this, state.notice, Toast.LENGTH_LONG).show()
                    viewModel.noticeShown()
                }
            }
        }
    }

    private fun renderFrame(frame: FrameState) {
        val rows = listOf(binding.row1, binding.row2, binding.row3)
        when (val p = frame.prediction) {
            is Prediction.Waiting -> {
                if (viewModel.model.value is ModelState.Ready) binding.headlineText.setText(R.string.waiting)
                rows.forEach { it.root.isVisible = false }
            }
            is Prediction.Confident -> {
                binding.headlineText.text = "${OverlayText.displayLabel(p.best.label)} ${OverlayText.percent(p.best.score)}"
                fillRows(rows, p.top, dimmed = false)
            }
            is Prediction.Uncertain -> {
                binding.headlineText.text = getString(R.string.no_confident_prediction, OverlayText.percent(p.threshold))
                fillRows(rows, p.top, dimmed = true)
            }
        }
        binding.statsText.text = if (frame.fromPhoto) {
            getString(R.string.photo_result, OverlayText.stats(frame.latencyMs, 0.0, backendLabel))
        } else {
            OverlayText.stats(frame.latencyMs, frame.fps, backendLabel)
        }
    }

    private fun fillRows(rows: List<ViewResultRowBinding>, top: List<Category>, dimmed: Boolean) {
        for ((i, row) in rows.withIndex()) {
            val c = top.getOrNull(i)
            row.root.isVisible = c != null
            if (c == null) continue
            row.root.alpha = if (dimmed) 0.6f else 1f
            row.labelText.text = OverlayText.displayLabel(c.label)
            row.scoreText.text = OverlayText.percent(c.score)
            row.scoreBar.setProgressCompat((c.score.coerceIn(0f, 1f) * 1000).toInt(), true)
        }
    }

    /** Edge-to-edge: the letterboxed preview is centred, the overlay and panels stay clear of the bars. */
    private fun applyWindowInsets() {
        val margin = resources.getDimensionPixelSize(R.dimen.overlay_margin)
        val panelPadding = resources.getDimensionPixelSize(R.dimen.panel_padding)
        ViewCompat.setOnApplyWindowInsetsListener(binding.root) { _, insets ->
            val bars = insets.getInsets(WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout())
            binding.overlay.updateLayoutParams<ViewGroup.MarginLayoutParams> {
                leftMargin = margin + bars.left
                rightMargin = margin + bars.right
                bottomMargin = margin + bars.bottom
            }
            for (panel in listOf<View>(binding.permissionPanel.root, binding.missingModelPanel.root)) {
                panel.updatePadding(
                    left = panelPadding + bars.left,
                    top = panelPadding + bars.top,
                    right = panelPadding + bars.right,
                    bottom = panelPadding + bars.bottom
                )
            }
            insets
        }
    }
}
