package org.flowersmobile.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class LabelsTest {

    private fun rejects(bytes: ByteArray, fragment: String) {
        try {
            Labels.parse(bytes)
            fail("accepted invalid labels")
        } catch (e: ModelBundleException) {
            assertTrue("'${e.message}' should mention '$fragment'", e.message!!.contains(fragment))
        }
    }

    @Test
    fun readsOneLabelPerLine() {
        assertEquals(listOf("daisy", "rose", "sweet_pea"), Labels.parse("daisy\nrose\nsweet_pea\n".toByteArray()))
        assertEquals(listOf("daisy", "rose"), Labels.parse("daisy\nrose".toByteArray()))
    }

    @Test
    fun acceptsCrlfAndUtf8() {
        assertEquals(listOf("rosé", "lily of the valley"), Labels.parse("rosé\r\nlily of the valley\r\n".toByteArray()))
    }

    @Test
    fun rejectsBadFiles() {
        rejects(ByteArray(0), "empty")
        rejects("a\n\nb\n".toByteArray(), "line 2 is blank")
        rejects("a\n b\n".toByteArray(), "whitespace")
        rejects("a\nb\na\n".toByteArray(), "appears twice (lines 1 and 3)")
        rejects(byteArrayOf(0x61, 0xff.toByte(), 0x0a), "not UTF-8")
        rejects("a\n\n".toByteArray(), "blank")
    }
}
