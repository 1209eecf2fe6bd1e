package org.flowersmobile.core

/**
 * The result of checking the files `flowers-mobile bundle` placed in the app against each other.
 *
 * @property problems one sentence per problem found; empty when everything agrees
 * @property manifest the parsed manifest, or null when it is missing or unreadable
 * @property labels labels.txt's labels, or empty when it is missing or invalid
 */
class BundleCheck(val problems: List<String>, val manifest: ModelManifest?, val labels: List<String>) {
    val ok: Boolean get() = problems.isEmpty()

    /** "model_name · int8 · 17 labels", or null without a manifest. */
    fun summary(modelFile: String): String? {
        val m = manifest ?: return null
        val art = m.artifact(modelFile)
        val parts = ArrayList<String>()
        parts.add(m.modelName)
        if (art != null) parts.add(art.precision)
        parts.add("${m.labelsCount} labels")
        return parts.joinToString(" · ")
    }
}

/** What the app knows about the model it loaded, gathered by Android code and handed in. */
class LoadedModel(
    /** The model's file name, as listed in the manifest (e.g. "flowers.tflite"). */
    val file: String,
    /** sha256 hex of the model's bytes. */
    val sha256: String,
    /** Number of classes the model outputs, or null when unknown. */
    val outputClasses: Int?,
    /** Labels packed in the model's metadata, in output order, or null when unknown. */
    val metadataLabels: List<String>?
)

/**
 * Checks a model against the manifest.json and labels.txt that were bundled with it: the model's
 * and the labels' sha256, and that every label count (labels.txt, manifest, artifact entry,
 * model output, model metadata) agrees. Collects every problem instead of stopping at the first,
 * so the app can show them all.
 */
object BundleChecker {

    /**
     * @param model what the app measured about the loaded model
     * @param manifestText manifest.json's text, or null when the file is missing
     * @param labelsBytes labels.txt's bytes, or null when the file is missing
     */
    fun check(model: LoadedModel, manifestText: String?, labelsBytes: ByteArray?): BundleCheck {
        val problems = ArrayList<String>()

        var manifest: ModelManifest? = null
        if (manifestText == null) {
            problems.add("manifest.json is missing: run `flowers-mobile bundle --platform android`")
        } else {
            try {
                manifest = ModelManifest.parse(manifestText)
            } catch (e: ModelBundleException) {
                problems.add(e.message ?: "manifest.json is invalid")
            }
        }

        var labels: List<String> = emptyList()
        if (labelsBytes == null) {
            problems.add("labels.txt is missing: run `flowers-mobile bundle --platform android`")
        } else {
            try {
                labels = Labels.parse(labelsBytes)
            } catch (e: ModelBundleException) {
                problems.add(e.message ?: "labels.txt is invalid")
            }
        }

        if (manifest != null) {
            val art = manifest.artifact(model.file)
            if (art == null) {
                problems.add("manifest.json lists no artifact \"${model.file}\"")
            } else {
                if (!art.sha256.equals(model.sha256, ignoreCase = true)) {
                    problems.add("${model.file}: sha256 ${model.sha256.take(12)}… does not match the manifest's " +
                        "${art.sha256.take(12)}… (model swapped or truncated): bundle again")
                }
                if (art.numLabels != manifest.labelsCount) {
                    problems.add("manifest.json: ${model.file} has ${art.numLabels} labels but the labels entry counts ${manifest.labelsCount}")
                }
            }
            if (labelsBytes != null) {
                val sha = Sha256.hex(labelsBytes)
                if (!sha.equals(manifest.labelsSha256, ignoreCase = true)) {
                    problems.add("labels.txt: sha256 ${sha.take(12)}… does not match the manifest's ${manifest.labelsSha256.take(12)}…")
                }
            }
            if (labels.isNotEmpty() && labels.size != manifest.labelsCount) {
                problems.add("labels.txt has ${labels.size} labels, manifest.json says ${manifest.labelsCount}")
            }
        }

        val outputs = model.outputClasses
        if (outputs != null && labels.isNotEmpty() && outputs != labels.size) {
            problems.add("the model outputs $outputs scores but labels.txt has ${labels.size} labels")
        }
        val meta = model.metadataLabels
        if (meta != null && labels.isNotEmpty()) {
            val mismatch = firstMismatch(meta, labels)
            if (mismatch != null) problems.add(mismatch)
        }
        return BundleCheck(problems, manifest, labels)
    }

    private fun firstMismatch(metadata: List<String>, file: List<String>): String? {
        if (metadata.size != file.size) {
            return "the model's metadata has ${metadata.size} labels, labels.txt has ${file.size}"
        }
        for (i in metadata.indices) {
            if (metadata[i] != file[i]) {
                return "label ${i + 1} differs: \"${metadata[i]}\" in the model's metadata, \"${file[i]}\" in labels.txt"
            }
        }
        return null
    }
}
