package org.flowersmobile.core

import com.google.gson.Gson
import com.google.gson.JsonArray
import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonParseException
import com.google.gson.stream.JsonReader
import com.google.gson.stream.JsonToken
import java.io.IOException
import java.io.StringReader
import java.math.BigDecimal

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
 * keys are a [ModelBundleException] naming the key. The JSON itself is read by Gson's tree model
 * from a strict [JsonReader] (no comments, unquoted keys or trailing commas; one value only).
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
            val root = Reading.readJson(text, where)
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

    private object Reading {
        private val elementAdapter = Gson().getAdapter(JsonElement::class.java)

        /** One strict JSON value spanning the whole text; [ModelBundleException] otherwise. */
        fun readJson(text: String, where: String): JsonElement {
            try {
                // A new JsonReader is strict; Gson's own parse helpers (JsonParser) switch it to
                // lenient, which would accept comments, unquoted keys and trailing commas.
                val reader = JsonReader(StringReader(text))
                val root = elementAdapter.read(reader)
                if (reader.peek() != JsonToken.END_DOCUMENT) throw IOException("more than one JSON value")
                return root
            } catch (e: IOException) {
                throw ModelBundleException("$where is not valid JSON (${e.message})")
            } catch (e: JsonParseException) {
                throw ModelBundleException("$where is not valid JSON (${e.message})")
            } catch (e: IllegalStateException) {
                throw ModelBundleException("$where is not valid JSON (${e.message})")
            } catch (e: NumberFormatException) {
                throw ModelBundleException("$where is not valid JSON (${e.message})")
            }
        }
    }

    /** Typed access to one JSON object, with messages that name the missing or mistyped key. */
    private class Fields(value: JsonElement?, private val where: String) {
        private val obj: JsonObject = if (value != null && value.isJsonObject) value.asJsonObject
            else throw ModelBundleException("$where: expected a JSON object")

        private fun raw(key: String): JsonElement {
            if (!obj.has(key)) throw ModelBundleException("$where: missing \"$key\"")
            return obj.get(key)
        }

        private fun wrong(key: String, expected: String): ModelBundleException =
            ModelBundleException("$where: \"$key\" should be $expected")

        private fun JsonElement.stringOrNull(): String? =
            if (isJsonPrimitive && asJsonPrimitive.isString) asString else null

        /** An integral JSON number (1 or 1.0) as a Long; null for anything else. */
        private fun JsonElement.integralOrNull(): Long? {
            if (!isJsonPrimitive || !asJsonPrimitive.isNumber) return null
            return try {
                BigDecimal(asJsonPrimitive.asString).longValueExact()
            } catch (e: ArithmeticException) {
                null
            } catch (e: NumberFormatException) {
                null
            }
        }

        fun string(key: String): String = raw(key).stringOrNull() ?: throw wrong(key, "a string")

        fun stringOrNull(key: String): String? = obj.get(key)?.stringOrNull()

        fun long(key: String): Long = raw(key).integralOrNull() ?: throw wrong(key, "an integer")

        fun int(key: String): Int {
            val v = long(key)
            if (v < Int.MIN_VALUE || v > Int.MAX_VALUE) throw wrong(key, "a 32-bit integer")
            return v.toInt()
        }

        fun obj(key: String): Fields = Fields(raw(key), "$where: $key")

        fun list(key: String): List<JsonElement> {
            val v = raw(key)
            if (!v.isJsonArray) throw wrong(key, "a list")
            return (v as JsonArray).toList()
        }

        fun intList(key: String): List<Int> {
            val out = ArrayList<Int>()
            for (v in list(key)) {
                val n = v.integralOrNull()
                if (n == null || n < Int.MIN_VALUE || n > Int.MAX_VALUE) throw wrong(key, "a list of integers")
                out.add(n.toInt())
            }
            return out
        }

        fun stringListOrEmpty(key: String): List<String> {
            val v = obj.get(key)
            if (v == null || v.isJsonNull) return emptyList()
            return list(key).map { it.stringOrNull() ?: throw wrong(key, "a list of strings") }
        }
    }
}
