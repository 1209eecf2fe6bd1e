package org.flowersmobile.core

/**
 * The files `flowers-mobile bundle --platform android` puts in `app/src/main/assets/`, in one
 * place the JVM tests can check against the shared tests/vectors/names.json.
 */
object BundleNames {
    /** The model: the export's default for Android. */
    const val MODEL = "flowers.tflite"
    const val LABELS = "labels.txt"
    const val MANIFEST = "manifest.json"
}
