package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/**
 * The manifest below is what `flowers_mobile.export.manifest.new_manifest` writes (schema 1) for
 * a 3-label export whose model file is the bytes "TFL3" + 0..255; the sha256 values were computed
 * by the Python side, so these tests also prove both sides hash the same way.
 */
class ManifestAndBundleTest {

    private val labelsText = "daisy\nrose\nsweet_pea\n"
    private val labelsSha = "8d359e5ff83e829215fb0ce9ace630c3227aa10cd74df059e4fe3630f362c9d7"
    private val modelSha = "6e6cbece7557b53112f6b9c512bcd0ae9d69bbd9b5edc96aae47737c9360d51e"

    private val manifest = """
        {
          "schema_version": 1,
          "created": "2026-11-23T11:15:24+00:00",
          "model_name": "flowers-demo",
          "source_model": {"file": "model.keras", "sha256": "f6cc6ef8774556490a0c3c8ae01b67cf73b51e29fe00c9e2702bb0de1da538ab"},
          "labels": {"file": "labels.txt", "sha256": "$labelsSha", "count": 3},
          "tools": {"flowers-mobile": "0.1.0", "tflite-support": "0.4.4"},
          "artifacts": [
            {
              "file": "flowers.tflite", "format": "tflite", "precision": "int8", "bytes": 260,
              "sha256": "$modelSha",
              "input_shape": [1, 96, 96, 3], "input_dtype": "uint8", "num_labels": 3,
              "input_quantization": {"scale": 1.0, "zero_point": 0},
              "output_dtype": "uint8", "output_quantization": {"scale": 0.00390625, "zero_point": 0},
              "default_for": ["android"], "extra": {}
            },
            {
              "file": "Flowers.mlpackage", "format": "mlpackage", "precision": "float16", "bytes": 1000,
              "sha256": "00", "input_shape": [1, 96, 96, 3], "input_dtype": "float32", "num_labels": 3,
              "input_quantization": null, "default_for": ["ios"], "extra": {}
            }
          ],
          "export_config": {"a": 1},
          "parity": null
        }
    """.trimIndent()

    private fun modelBytes(): ByteArray {
        val out = ByteArray(260)
        "TFL3".toByteArray().copyInto(out)
        for (i in 0 until 256) out[4 + i] = i.toByte()
        return out
    }

    private fun loaded(sha: String = Sha256.hex(modelBytes()), outputs: Int? = 3, meta: List<String>? = listOf("daisy", "rose", "sweet_pea")) =
        LoadedModel("flowers.tflite", sha, outputs, meta)

    @Test
    fun sha256MatchesPythonAndKnownVectors() {
        assertEquals(modelSha, Sha256.hex(modelBytes()))
        assertEquals(labelsSha, Sha256.hex(labelsText.toByteArray()))
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Sha256.hex("abc".toByteArray()))
        assertEquals(Sha256.hex(modelBytes()), Sha256.hex(modelBytes().inputStream()))
    }

    @Test
    fun parsesTheExportersManifest() {
        val m = ModelManifest.parse(manifest)
        assertEquals("flowers-demo", m.modelName)
        assertEquals(3, m.labelsCount)
        assertEquals(labelsSha, m.labelsSha256)
        val tflite = m.defaultFor("android")!!
        assertEquals("flowers.tflite", tflite.file)
        assertEquals("int8", tflite.precision)
        assertEquals(listOf(1, 96, 96, 3), tflite.inputShape)
        assertEquals(260L, tflite.bytes)
        assertEquals("Flowers.mlpackage", m.defaultFor("ios")!!.file)
        assertNull(m.artifact("missing.tflite"))
    }

    @Test
    fun manifestErrorsNameTheField() {
        fun rejects(text: String, fragment: String) {
            try {
                ModelManifest.parse(text)
                fail("accepted: $text")
            } catch (e: ModelBundleException) {
                assertTrue("'${e.message}' should mention '$fragment'", e.message!!.contains(fragment))
            }
        }
        rejects("{", "not valid JSON")
        rejects("[]", "expected a JSON object")
        rejects(manifest.replace("\"schema_version\": 1", "\"schema_version\": 2"), "schema_version 2")
        rejects(manifest.replace("\"model_name\": \"flowers-demo\",", ""), "missing \"model_name\"")
        rejects(manifest.replace("\"num_labels\": 3,\n", "\"num_labels\": \"3\",\n"), "artifacts[0]: \"num_labels\" should be an integer")
        rejects(manifest.replace("[1, 96, 96, 3], \"input_dtype\": \"uint8\"", "[1, 96.5], \"input_dtype\": \"uint8\""), "list of integers")
    }

    @Test
    fun consistentBundlePasses() {
        val check = BundleChecker.check(loaded(), manifest, labelsText.toByteArray())
        assertTrue(check.problems.toString(), check.ok)
        assertEquals(listOf("daisy", "rose", "sweet_pea"), check.labels)
        assertEquals("flowers-demo · int8 · 3 labels", check.summary("flowers.tflite"))
    }

    @Test
    fun swappedModelIsReported() {
        val check = BundleChecker.check(loaded(sha = Sha256.hex("other".toByteArray())), manifest, labelsText.toByteArray())
        assertFalse(check.ok)
        assertTrue(check.problems[0], check.problems[0].contains("does not match the manifest"))
    }

    @Test
    fun editedLabelsAreReported() {
        val check = BundleChecker.check(loaded(meta = null), manifest, "daisy\nrose\nsweetpea\n".toByteArray())
        assertEquals(1, check.problems.size)
        assertTrue(check.problems[0].startsWith("labels.txt: sha256"))
    }

    @Test
    fun labelCountAgainstModelOutputAndMetadata() {
        val wrongOutputs = BundleChecker.check(loaded(outputs = 5, meta = null), manifest, labelsText.toByteArray())
        assertEquals(listOf("the model outputs 5 scores but labels.txt has 3 labels"), wrongOutputs.problems)

        val reordered = BundleChecker.check(loaded(meta = listOf("rose", "daisy", "sweet_pea")), manifest, labelsText.toByteArray())
        assertEquals(1, reordered.problems.size)
        assertTrue(reordered.problems[0].startsWith("label 1 differs"))
    }

    @Test
    fun missingFilesAreReportedTogether() {
        val check = BundleChecker.check(loaded(), null, null)
        assertEquals(2, check.problems.size)
        assertTrue(check.problems.all { it.contains("flowers-mobile bundle --platform android") })
        assertNull(check.summary("flowers.tflite"))
    }

    @Test
    fun modelMissingFromManifestIsReported() {
        val check = BundleChecker.check(LoadedModel("other.tflite", "00", null, null), manifest, labelsText.toByteArray())
        assertEquals(listOf("manifest.json lists no artifact \"other.tflite\""), check.problems)
    }
}
