package org.flowersmobile.app

import android.content.res.AssetManager
import org.flowersmobile.core.BundleCheck
import org.flowersmobile.core.BundleChecker
import org.flowersmobile.core.Labels
import org.flowersmobile.core.LoadedModel
import org.flowersmobile.core.ModelBundleException
import org.flowersmobile.core.Sha256
import org.tensorflow.lite.support.metadata.MetadataExtractor
import org.tensorflow.lite.support.metadata.schema.AssociatedFileType
import java.io.FileNotFoundException
import java.nio.ByteBuffer

/**
 * The files `flowers-mobile bundle --platform android` puts in `app/src/main/assets/`:
 * flowers.tflite, labels.txt and manifest.json.
 */
object ModelAssets {
    const val LABELS = "labels.txt"
    const val MANIFEST = "manifest.json"

    fun modelPresent(assets: AssetManager): Boolean =
        assets.list("")?.contains(FlowerClassifier.MODEL_ASSET) == true

    /**
     * Check the bundled model against manifest.json and labels.txt with the core module: the
     * model's sha256, the labels' sha256, and every label count, including the model's output
     * size and the labels packed in its metadata.
     */
    fun check(assets: AssetManager): BundleCheck {
        val model = assets.open(FlowerClassifier.MODEL_ASSET).use { it.readBytes() }
        var outputs: Int? = null
        var metadataLabels: List<String>? = null
        try {
            val extractor = MetadataExtractor(ByteBuffer.wrap(model))
            outputs = extractor.getOutputTensorShape(0).lastOrNull()
            if (extractor.hasMetadata()) metadataLabels = labelsFromMetadata(extractor)
        } catch (e: Exception) {
            // Not a readable FlatBuffer: the Task Library reports it when it loads the model.
        }
        return BundleChecker.check(
            LoadedModel(FlowerClassifier.MODEL_ASSET, Sha256.hex(model), outputs, metadataLabels),
            readOrNull(assets, MANIFEST)?.toString(Charsets.UTF_8),
            readOrNull(assets, LABELS)
        )
    }

    /** The output tensor's TENSOR_AXIS_LABELS file, which is where the Task Library reads labels. */
    private fun labelsFromMetadata(extractor: MetadataExtractor): List<String>? {
        val output = extractor.getOutputTensorMetadata(0) ?: return null
        for (i in 0 until output.associatedFilesLength()) {
            val file = output.associatedFiles(i) ?: continue
            if (file.type() != AssociatedFileType.TENSOR_AXIS_LABELS) continue
            val bytes = extractor.getAssociatedFile(file.name()).use { it.readBytes() }
            return try {
                Labels.parse(bytes, "labels in the model's metadata")
            } catch (e: ModelBundleException) {
                null
            }
        }
        return null
    }

    private fun readOrNull(assets: AssetManager, name: String): ByteArray? =
        try {
            assets.open(name).use { it.readBytes() }
        } catch (e: FileNotFoundException) {
            null
        }
}
