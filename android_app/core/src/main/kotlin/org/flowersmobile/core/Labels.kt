package org.flowersmobile.core

import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction
import java.nio.charset.StandardCharsets

/** A labels file or manifest that breaks the artifact contract; the message says what and where. */
class ModelBundleException(message: String) : IllegalArgumentException(message)

/**
 * labels.txt: UTF-8, one label per line, in output-index order, no blank lines, no duplicates;
 * CRLF line ends are accepted and one leading byte-order mark is dropped. The same rules as the
 * Python side's `flowers_mobile.labels.read_labels` and the iOS app's `LabelsFile`
 * (tests/vectors/labels.json).
 */
object Labels {

    /**
     * Decode and validate a labels file.
     *
     * @param bytes the file's bytes
     * @param where a name for messages (e.g. "labels.txt")
     * @throws ModelBundleException for invalid UTF-8, an empty file, blank or padded lines, duplicates
     */
    fun parse(bytes: ByteArray, where: String = "labels.txt"): List<String> {
        val text = try {
            StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes))
                .toString()
        } catch (e: CharacterCodingException) {
            throw ModelBundleException("$where is not UTF-8")
        }
        // A byte-order mark is an encoding marker, not part of the first label.
        val body = if (text.startsWith("\uFEFF")) text.substring(1) else text
        val lines = ArrayList(body.split("\n"))
        if (lines.isNotEmpty() && lines[lines.size - 1].isEmpty()) lines.removeAt(lines.size - 1)
        val cleaned = ArrayList<String>(lines.size)
        for (line in lines) cleaned.add(if (line.endsWith("\r")) line.substring(0, line.length - 1) else line)
        return validate(cleaned, where)
    }

    /** Check a label list; returns it unchanged or throws [ModelBundleException]. */
    fun validate(labels: List<String>, where: String = "labels"): List<String> {
        if (labels.isEmpty()) throw ModelBundleException("$where is empty: give one label per line")
        val seen = HashMap<String, Int>()
        for ((i, label) in labels.withIndex()) {
            val line = i + 1
            if (label.isBlank()) throw ModelBundleException("$where: line $line is blank")
            if (label != label.trim() || label.contains('\n') || label.contains('\r')) {
                throw ModelBundleException("$where: line $line (\"$label\") has surrounding whitespace or a line break")
            }
            val before = seen[label]
            if (before != null) {
                throw ModelBundleException("$where: label \"$label\" appears twice (lines ${before + 1} and $line)")
            }
            seen[label] = i
        }
        return labels
    }

    /**
     * The labels a classifier reports, in output-index order: MediaPipe's categories carry each
     * class's output index and the name it read from the model's metadata.
     *
     * @param indexed (output index, category name) of every class, in any order
     * @return the names by index, or null when the indices are not exactly 0 until n or a name is
     *   blank (a model without labels in its metadata)
     */
    fun inIndexOrder(indexed: List<Pair<Int, String>>): List<String>? {
        if (indexed.isEmpty()) return null
        val names = arrayOfNulls<String>(indexed.size)
        for ((index, name) in indexed) {
            if (index < 0 || index >= names.size || names[index] != null || name.isBlank()) return null
            names[index] = name
        }
        return names.map { it!! }
    }
}
