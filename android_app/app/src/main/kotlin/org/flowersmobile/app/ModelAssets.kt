package org.flowersmobile.app

import android.content.res.AssetManager
import org.flowersmobile.core.BundleCheck
import org.flowersmobile.core.BundleNames
import org.flowersmobile.core.BundleChecker
import org.flowersmobile.core.LoadedModel
import org.flowersmobile.core.Sha256
import java.io.FileNotFoundException

/**
 * The files `flowers-mobile bundle --platform android` puts in `app/src/main/assets/`:
 * flowers.tflite, labels.txt and manifest.json.
 */
object ModelAssets {
    const val LABELS = BundleNames.LABELS
    const val MANIFEST = BundleNames.MANIFEST

    fun modelPresent(assets: AssetManager): Boolean =
        assets.list("")?.contains(FlowerClassifier.MODEL_ASSET) == true

    /**
     * Check the bundled model against manifest.json and labels.txt with the core module: the
     * model's sha256, the labels' sha256, and every label count, including the model's output
     * size and the labels in its metadata.
     *
     * @param outputs the number of classes the classifier reports
     * @param metadataLabels the labels MediaPipe read from the model's metadata, in output order,
     *   or null when it found none
     */
    fun check(assets: AssetManager, outputs: Int?, metadataLabels: List<String>?): BundleCheck {
        val model = assets.open(FlowerClassifier.MODEL_ASSET).use { it.readBytes() }
        return BundleChecker.check(
            LoadedModel(FlowerClassifier.MODEL_ASSET, Sha256.hex(model), outputs, metadataLabels),
            readOrNull(assets, MANIFEST)?.toString(Charsets.UTF_8),
            readOrNull(assets, LABELS)
        )
    }

    private fun readOrNull(assets: AssetManager, name: String): ByteArray? =
        try {
            assets.open(name).use { it.readBytes() }
        } catch (e: FileNotFoundException) {
            null
        }
}
