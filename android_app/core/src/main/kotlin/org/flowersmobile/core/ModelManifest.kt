package org.flowersmobile.core

/** One artifact entry of manifest.json (the fields the apps use). */
class ArtifactInfo(
    val file: String,
    val format: String,
    val precision: String,
    val bytes: Long,
    val sha256: String,
    val inputShape: List<Int>,
    val inputDtype: String,
    val numLabels: Int,
    val defaultFor: List<String>
)

/**
 * manifest.json as written by `flowers-mobile convert` (schema version 1): the model's name, the
 * labels file's sha256 and count, and one [ArtifactInfo] per exported file.
 *
 * Unknown keys are ignored so that newer exporters stay readable; missing or mistyped required
 * keys are a [ModelBundleException] naming the key.
 */
class ModelManifest(
    val schemaVersion: Int,
    val modelName: String,
    val created: String?,
    val labelsFile: String,
    val labelsSha256: String,
    val labelsCount: Int,
    val artifacts: List<ArtifactInfo>
) {

    /** The artifact with this file name, or null. */
    fun artifact(file: String): ArtifactInfo? {
        for (a in artifacts) if (a.file == file) return a
        return null
    }

    /** The artifact a platform ("android", "ios") takes by default, or null. */
    fun defaultFor(platform: String): ArtifactInfo? {
        for (a in artifacts) if (a.defaultFor.contains(platform)) return a
        return null
    }

    companion object {
        const val SCHEMA_VERSION = 1

        /**
         * Parse manifest.json text.
         *
         * @throws ModelBundleException when it is not JSON, not schema version 1, or lacks a field
         */
        fun parse(text: String, where: String = "manifest.json"): ModelManifest {
            val root = try {
                Json.parse(text)
            } catch (e: JsonParseException) {
                throw ModelBundleException("$where is not valid JSON (${e.message})")
            }
            val r = Fields(root, where)
            val version = r.int("schema_version")
            if (version != SCHEMA_VERSION) {
                throw ModelBundleException("$where: schema_version $version, this app reads $SCHEMA_VERSION")
            }
            val labels = r.obj("labels")
            val artifacts = ArrayList<ArtifactInfo>()
            for ((i, item) in r.list("artifacts").withIndex()) {
                val a = Fields(item, "$where: artifacts[$i]")
                artifacts.add(ArtifactInfo(
                    file = a.string("file"),
                    format = a.string("format"),
                    precision = a.string("precision"),
                    bytes = a.long("bytes"),
                    sha256 = a.string("sha256"),
                    inputShape = a.intList("input_shape"),
                    inputDtype = a.string("input_dtype"),
                    numLabels = a.int("num_labels"),
                    defaultFor = a.stringListOrEmpty("default_for")
                ))
            }
            return ModelManifest(
                schemaVersion = version,
                modelName = r.string("model_name"),
                created = r.stringOrNull("created"),
                labelsFile = labels.string("file"),
                labelsSha256 = labels.string("sha256"),
                labelsCount = labels.int("count"),
                artifacts = artifacts
            )
        }
    }

    /** Typed access to one JSON object, with messages that name the missing or mistyped key. */
    private class Fields(value: Any?, private val where: String) {
        private val map: Map<*, *> = value as? Map<*, *>
            ?: throw ModelBundleException("$where: expected a JSON object")

        private fun raw(key: String): Any? {
            if (!map.containsKey(key)) throw ModelBundleException("$where: missing \"$key\"")
            return map[key]
        }

        private fun wrong(key: String, expected: String): ModelBundleException =
            ModelBundleException("$where: \"$key\" should be $expected")

        fun string(key: String): String = raw(key) as? String ?: throw wrong(key, "a string")

        fun stringOrNull(key: String): String? = map[key] as? String

        fun long(key: String): Long {
            val v = raw(key)
            if (v is Long) return v
            if (v is Double && v == Math.floor(v) && !v.isInfinite()) return v.toLong()
            throw wrong(key, "an integer")
        }

        fun int(key: String): Int {
            val v = long(key)
            if (v < Int.MIN_VALUE || v > Int.MAX_VALUE) throw wrong(key, "a 32-bit integer")
            return v.toInt()
        }

        fun obj(key: String): Fields = Fields(raw(key), "$where: $key")

        fun list(key: String): List<Any?> = raw(key) as? List<*> ?: throw wrong(key, "a list")

        fun intList(key: String): List<Int> {
            val out = ArrayList<Int>()
            for (v in list(key)) {
                if (v !is Long || v < Int.MIN_VALUE || v > Int.MAX_VALUE) throw wrong(key, "a list of integers")
                out.add(v.toInt())
            }
            return out
        }

        fun stringListOrEmpty(key: String): List<String> {
            if (!map.containsKey(key) || map[key] == null) return emptyList()
            val out = ArrayList<String>()
            for (v in list(key)) out.add(v as? String ?: throw wrong(key, "a list of strings"))
            return out
        }
    }
}
