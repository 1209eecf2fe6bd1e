package org.flowersmobile.core

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * The cases in tests/vectors/ that pytest and the iOS app's XCTest suite check too: labels files,
 * manifests, smoothing and the confidence threshold, one truth for all three.
 *
 * The folder comes from the system property `flowers.vectors` (tools/test_kotlin.sh and the
 * Gradle build set it), else from the first tests/vectors above the working directory.
 */
class SharedVectorsTest {

    private val folder: File = System.getProperty("flowers.vectors")?.let { File(it) }
        ?: generateSequence(File(System.getProperty("user.dir")).absoluteFile) { it.parentFile }
            .map { File(it, "tests/vectors") }
            .firstOrNull { it.isDirectory }
        ?: throw IllegalStateException("tests/vectors not found; set -Dflowers.vectors")

    private fun vectors(name: String): JsonObject =
        JsonParser.parseString(File(folder, name).readText()).asJsonObject

    private fun cases(root: JsonObject): List<JsonObject> {
        val list = root.getAsJsonArray("cases").map { it.asJsonObject }
        assertTrue(list.isNotEmpty())
        return list
    }

    private fun rejects(file: String, fragment: String, block: () -> Unit) {
        try {
            block()
            fail("$file: accepted")
        } catch (e: ModelBundleException) {
            assertTrue("$file: '${e.message}' lacks '$fragment'", e.message!!.contains(fragment))
        }
    }

    @Test
    fun labelsFiles() {
        for (case in cases(vectors("labels.json"))) {
            val file = case.get("file").asString
            val bytes = File(folder, file).readBytes()
            if (case.has("labels")) {
                assertEquals(file, case.getAsJsonArray("labels").map { it.asString }, Labels.parse(bytes, file))
            } else {
                rejects(file, case.get("error_contains").asString) { Labels.parse(bytes, file) }
            }
        }
    }

    @Test
    fun manifests() {
        for (case in cases(vectors("manifests.json"))) {
            val file = case.get("file").asString
            val text = File(folder, file).readText()
            if (case.has("rejected_by")) {
                val rejectedBy = case.getAsJsonArray("rejected_by").map { it.asString }
                if (rejectedBy.contains("kotlin")) {
                    rejects(file, case.get("error_contains").asString) { ModelManifest.parse(text, file) }
                } else {
                    ModelManifest.parse(text, file)
                }
                continue
            }
            val m = ModelManifest.parse(text, file)
            assertEquals(file, case.get("model_name").asString, m.modelName)
            assertEquals(file, case.get("labels_count").asInt, m.labelsCount)
            for ((platform, name) in case.getAsJsonObject("default_for").entrySet()) {
                assertEquals("$file $platform", name.asString, m.defaultFor(platform)?.file)
            }
            val expected = case.getAsJsonArray("artifacts").map { it.asJsonObject }
            assertEquals(file, expected.size, m.artifacts.size)
            for ((a, want) in m.artifacts.zip(expected)) {
                assertEquals(want.get("file").asString, a.file)
                assertEquals(want.get("format").asString, a.format)
                assertEquals(want.get("precision").asString, a.precision)
                assertEquals(want.get("bytes").asLong, a.bytes)
                assertEquals(want.getAsJsonArray("input_shape").map { it.asInt }, a.inputShape)
                assertEquals(want.get("input_dtype").asString, a.inputDtype)
                assertEquals(want.get("num_labels").asInt, a.numLabels)
            }
        }
    }

    @Test
    fun smoothing() {
        val root = vectors("smoothing.json")
        val defaults = root.getAsJsonObject("defaults")
        val plain = ScoreSmoother()
        assertEquals(defaults.get("half_life_ms").asDouble, plain.halfLifeMs, 1e-9)
        assertEquals(defaults.get("reset_after_ms").asLong, plain.resetAfterMs)
        assertEquals(defaults.get("drop_below").asFloat, plain.dropBelow, 1e-9f)
        for (case in cases(root)) {
            val name = case.get("name").asString
            val smoother = ScoreSmoother(case.get("half_life_ms").asDouble, case.get("reset_after_ms").asLong)
            var out: List<Category> = emptyList()
            for (frame in case.getAsJsonArray("frames").map { it.asJsonObject }) {
                val scores = frame.getAsJsonObject("scores").entrySet().map { Category(it.key, it.value.asFloat) }
                out = smoother.update(scores, frame.get("t_ms").asLong)
            }
            val expected = case.getAsJsonObject("expected").entrySet().associate { it.key to it.value.asDouble }
            assertEquals(name, expected.keys, out.map { it.label }.toSet())
            for (c in out) assertEquals("$name: ${c.label}", expected.getValue(c.label), c.score.toDouble(), 1e-5)
        }
    }

    @Test
    fun threshold() {
        val root = vectors("threshold.json")
        val defaults = root.getAsJsonObject("defaults")
        val plain = ConfidenceGate()
        assertEquals(defaults.get("threshold").asFloat, plain.threshold, 1e-6f)
        assertEquals(defaults.get("hysteresis").asFloat, plain.hysteresis, 1e-6f)
        assertEquals(defaults.get("top_k").asInt, plain.topK)
        for (case in cases(root)) {
            val name = case.get("name").asString
            val gate = ConfidenceGate(case.get("threshold").asFloat, case.get("hysteresis").asFloat)
            for ((i, step) in case.getAsJsonArray("steps").map { it.asJsonObject }.withIndex()) {
                val scores = step.getAsJsonObject("scores").entrySet().map { Category(it.key, it.value.asFloat) }
                val p = gate.evaluate(scores)
                val want = step.get("confident")
                if (want.isJsonNull) {
                    assertTrue("$name, step $i: $p", p is Prediction.Uncertain)
                } else {
                    assertTrue("$name, step $i: $p", p is Prediction.Confident)
                    assertEquals("$name, step $i", want.asString, (p as Prediction.Confident).best.label)
                }
            }
        }
    }

    /** The names `flowers-mobile bundle` writes are the names the app looks for. */
    @Test
    fun bundleNames() {
        val names = vectors("names.json")
        assertEquals(names.getAsJsonObject("default_artifact").get("android").asString, BundleNames.MODEL)
        assertEquals(names.get("labels").asString, BundleNames.LABELS)
        assertEquals(names.get("manifest").asString, BundleNames.MANIFEST)
    }
}
